//! Header parsing under fuzzing: any header set gives a credential or a clean refusal, never a
//! panic. Input: lines of `name: value`.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use keygate_core::identity::credentials::{extract, Presented};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n').take(32) {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value.trim_ascii())) else {
            continue;
        };
        headers.append(name, value);
    }
    match extract(&headers) {
        Ok(Presented::Signed(signed)) => {
            for now in [0, 1_800_000_000, i64::MAX / 2] {
                let _ = keygate_core::identity::signed::check(&signed, now, 300);
            }
        }
        Ok(_) => {}
        Err(e) => assert!(matches!(e.status().as_u16(), 400 | 401)),
    }
});
