using Instrumentation.Upload;

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
        Measure("partial method", () => BenchEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5)), logs);
        Measure("call-site hook", () => kernel.RunCell("nb-1", "c7", 12.5), logs);
        Measure("immediate", () => BenchEvents.NotebookVisited("nb-1", "c7", TimeSpan.FromMilliseconds(12.5)), logs);
    }

    private static void Measure(string name, Action record, LogManager logs)
    {
        const int Rounds = 2_000;
        const int PerRound = 100;
        long allocated = 0;
        for (int round = 0; round < Rounds; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < PerRound; i++)
            {
                record();
            }

            if (round >= Rounds / 2)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - before; // the second half: warm
            }

            SpinWait.SpinUntil(() => logs.PendingCount < 200);
        }

        Console.WriteLine($"{name}: {(double)allocated / (Rounds / 2 * PerRound):F2} bytes per call on the calling thread, steady state");
    }

    private sealed class DiscardingTransport : IUploadTransport
    {
        private static readonly Task<UploadResponse> Accepted = Task.FromResult(new UploadResponse(UploadOutcome.Accepted, 200, null, [], null));

        public Task<UploadResponse> SendAsync(UploadKind kind, ReadOnlyMemory<byte> json, CancellationToken cancellationToken) => Accepted;
    }
}
