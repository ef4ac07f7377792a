local non200 = 0
response = function(status)
  if status ~= 200 then non200 = non200 + 1 end
end
done = function(summary)
  io.stderr:write(string.format("requests %d non200 %d\n", summary.requests, non200))
end
