namespace Instrumentation.Benchmarks;

/// <summary>
/// Steady state, as an application sees it: events recorded no faster than the background loop takes them. Prints
/// the bytes the calling thread allocates per call once warm (the hot-path benchmark, which records as fast as it
/// can, mostly measures an overloaded pipeline).
/// </summary>
internal static class AllocationProbe
{
    public static void Run()
    {
        var options = new LogManagerOptions { Endpoint = new Uri("http://127.0.0.1:9/"), FlushOnProcessExit = false };
        using var logs = new LogManager(options, null, null, null, null, new DiscardingTransport());
        logs.StartCore(attachToHub: true, registerProcessExit: false);
        var kernel = new Kernel();
        Console.WriteLine("| paced recording (nothing dropped) | mean per call, calling thread | allocated per call, calling thread | bytes allocated in 1,000,000 warm calls | events dropped |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        Measure("partial method", () => BenchEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5)), logs);
        Measure("call-site hook", () => kernel.RunCell("nb-1", "c7", 12.5), logs);
        Measure("immediate", () => BenchEvents.NotebookVisited("nb-1", "c7", TimeSpan.FromMilliseconds(12.5)), logs);
    }

    private static void Measure(string name, Action record, LogManager logs)
    {
        const int Rounds = 20_000;
        const int PerRound = 100;
        long allocated = 0;
        long ticks = 0;
        long dropsBefore = logs.GetStatistics().EventsDropped.Values.Sum();
        for (int round = 0; round < Rounds; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            for (int i = 0; i < PerRound; i++)
            {
                record();
            }

            long elapsed = System.Diagnostics.Stopwatch.GetTimestamp() - start;
            if (round >= Rounds / 2)
            {
                // The second half only: warm. The wait below (for the loop to catch up) is not measured.
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                ticks += elapsed;
            }

            while (logs.PendingCount > 0)
            {
                Thread.SpinWait(20);
            }
        }

        long calls = Rounds / 2 * PerRound;
        long dropped = logs.GetStatistics().EventsDropped.Values.Sum() - dropsBefore;
        Console.WriteLine($"| {name} | {ticks * 1e9 / System.Diagnostics.Stopwatch.Frequency / calls:F1} ns | {(double)allocated / calls:F2} B | {allocated:N0} | {dropped} |");
    }
}
