-- wrk script: POST one realistic draft request per call (JSON, not streamed), and report
-- p50/p95/p99 in microseconds plus the count of non-2xx answers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"message": {"subject": "Invoice 4411 for March", "from": "Jane Doe <jane.doe@acme-example.com>", "to": ["Sam Lee <sam@corp-example.com>"], "body_text": "Hi Sam,\n\nCould you resend the March invoice? The PDF we received was empty. Please also confirm whether the delivery is still planned for 3 December.\n\nYou can reach me on +44 20 7946 0958.\n\nBest regards,\nJane Doe\nHead of Purchasing, ACME Ltd\n\nOn Mon, Nov 23, 2026 at 4:05 PM Sam Lee <sam@corp-example.com> wrote:\n> the invoice went out this morning."}, "options": {"tone": "friendly"}}]]

done = function(summary, latency, requests)
  io.write(string.format("RW p50_us=%d p95_us=%d p99_us=%d non2xx=%d requests=%d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.status, summary.requests))
end
