using BenchmarkDotNet.Running;
using Instrumentation.Benchmarks;

// dotnet run -c Release --project tests/Benchmarks -- [BenchmarkDotNet arguments]   hot path and generator (--filter *HotPath* / *Generator*)
// dotnet run -c Release --project tests/Benchmarks -- ship [--events 1000000]        shipping throughput
// dotnet run -c Release --project tests/Benchmarks -- alloc                            calling-thread bytes per call, steady state
// dotnet run -c Release --project tests/Benchmarks -- ship --defaults [--events N]    ours at default options vs OTLP/HTTP
// dotnet run -c Release --project tests/Benchmarks -- faults [--limit 180]             backlog through a faulty proxy
if (args.Length > 0 && args[0] == "ship" && args.Contains("--defaults"))
{
    int events = args.SkipWhile(a => a != "--events").Skip(1).Select(int.Parse).FirstOrDefault(1_000_000);
    await ShippingBenchmark.RunDefaultsComparisonAsync(events);
    return;
}

if (args.Length > 0 && args[0] == "faults")
{
    int limit = args.SkipWhile(a => a != "--limit").Skip(1).Select(int.Parse).FirstOrDefault(180);
    int seed = args.SkipWhile(a => a != "--seed").Skip(1).Select(int.Parse).FirstOrDefault(20261129);
    await FaultRun.RunAsync(batchEvents: 20_000, immediateEvents: 40, threads: 8, outage: TimeSpan.FromSeconds(8), limit: TimeSpan.FromSeconds(limit), seed: seed);
    return;
}

if (args.Length > 0 && args[0] == "ship")
{
    int events = args.SkipWhile(a => a != "--events").Skip(1).Select(int.Parse).FirstOrDefault(1_000_000);
    await ShippingBenchmark.RunAsync(events);
    return;
}

if (args.Length > 0 && args[0] == "alloc")
{
    AllocationProbe.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(HotPathBenchmarks).Assembly).Run(args);
