namespace Instrumentation.Benchmarks;

/// <summary>
/// The least time the fault run's drain can take under the rules, for a seed: the proxy's own sequence of
/// faults (<see cref="FaultProxy.Choose"/>, in request order, as the proxy draws them after the outage) played against
/// an ideal uploader with no backoff and no probe wait at all. It still keeps the rules: one probe at a time until the
/// first success, then at most 4 batch requests of at most 1,000 events, every <c>Retry-After</c> (at least 1 s)
/// holds for the whole endpoint, and after one only a single request goes until a request succeeds. A model, not a measurement: request durations are the ones the traces show (an
/// answer from the collector ~0.08 s, an injected failure ~0.005 s, a stall 2 s more), and the HTTP-date form waits
/// until the date the proxy writes (now + 2 s, truncated to the second), so the result depends on the wall clock's
/// phase: it is given over 20 phases.
/// </summary>
internal static class FaultFloor
{
    public static void Run(int[] seeds, int batchEvents, int immediateEvents)
    {
        Console.WriteLine("Least drain time under the rules (ideal uploader: no backoff, no probe wait), per seed of the fault proxy,");
        Console.WriteLine("with probes of 1,000 events and of 50 (MaxBatchSize: what the uploader sends), over 20 phases of the wall clock:");
        Console.WriteLine("| seed | probe of 1,000: mean (min–max) | probe of 50: mean (min–max) |");
        Console.WriteLine("| ---: | ---: | ---: |");
        foreach (int seed in seeds)
        {
            string Row(int probeEvents)
            {
                double[] times = [.. Enumerable.Range(0, 20).Select(phase => Simulate(seed, phase / 20.0, batchEvents + immediateEvents, probeEvents))];
                return $"{times.Average():F1} s ({times.Min():F1}–{times.Max():F1})";
            }

            Console.WriteLine($"| {seed} | {Row(1000)} | {Row(50)} |");
        }
    }

    /// <summary>Events are interchangeable here: each request takes what it may carry from those not in flight; a failure puts them back.</summary>
    private static double Simulate(int seed, double phase, int events, int probeEvents)
    {
        var random = new Random(seed);
        int waiting = events;
        int unacknowledged = events;
        var inFlight = new List<(double End, int Events, int Fault)>();
        double pausedUntil = 0;
        double now = 0;
        bool open = true; // the outage opened the circuit
        bool throttled = false; // a Retry-After since the last success: one request at a time
        while (unacknowledged > 0)
        {
            while (waiting > 0 && now >= pausedUntil && (open || throttled ? inFlight.Count == 0 : inFlight.Count < 4))
            {
                int fault = FaultProxy.Choose(random, 0.40, 0.08);
                double duration = fault switch { -1 or 6 => 0.08, FaultProxy.Stall => 2.08, _ => 0.005 };
                int carried = Math.Min(waiting, open ? probeEvents : 1000);
                waiting -= carried;
                inFlight.Add((now + duration, carried, fault));
            }

            (double End, int Events, int Fault) answered = inFlight.MinBy(r => r.End);
            inFlight.Remove(answered);
            now = answered.End;
            switch (answered.Fault)
            {
                case -1 or FaultProxy.Stall:
                    unacknowledged -= answered.Events;
                    open = false;
                    throttled = false;
                    break;
                case 0 or 2: // Retry-After: 1
                    pausedUntil = Math.Max(pausedUntil, now + 1);
                    throttled = true;
                    waiting += answered.Events;
                    break;
                case 1 or 3: // Retry-After: an HTTP date, now + 2 s truncated to the second
                    double wall = now + phase;
                    pausedUntil = Math.Max(pausedUntil, now + Math.Max(1, Math.Floor(wall + 2) - wall));
                    throttled = true;
                    waiting += answered.Events;
                    break;
                default: // 500, dropped, answer lost: again at once
                    waiting += answered.Events;
                    break;
            }

            if (inFlight.Count == 0 && now < pausedUntil)
            {
                now = pausedUntil;
            }
        }

        return now;
    }
}
