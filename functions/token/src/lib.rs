pub fn _warm() {}
