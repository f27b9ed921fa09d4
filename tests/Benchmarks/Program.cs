using BenchmarkDotNet.Running;
using Instrumentation.Benchmarks;

// dotnet run -c Release --project tests/Benchmarks -- [BenchmarkDotNet arguments]   hot path and generator (--filter *HotPath* / *Generator*)
// dotnet run -c Release --project tests/Benchmarks -- ship [--events 1000000]        shipping throughput
// dotnet run -c Release --project tests/Benchmarks -- dashboard [--events 1000000] [--postgres <connection string>]   dashboard page render time
// dotnet run -c Release --project tests/Benchmarks -- ingest [--events 400000] [--runs 3] [--batch 50 [--batch 1000]] [--context one|notebook] [--postgres <connection string>] [--postgres-writers N] [--postgres-only]   collector ingest, SQLite and PostgreSQL
// dotnet run -c Release --project tests/Benchmarks -- alloc                            calling-thread bytes per call, steady state
// dotnet run -c Release --project tests/Benchmarks -- ship --defaults [--events N]    ours at default options vs OTLP/HTTP
// dotnet run -c Release --project tests/Benchmarks -- faults [--limit 180] [--seed N] [--trace] [--mix weighted|listed]   backlog through a faulty proxy (--trace: a per-request timeline)
// dotnet run -c Release --project tests/Benchmarks -- faults --floor [--seeds 1,2,3]   least drain time the rules allow, per seed (a model)
if (args.Length > 0 && args[0] == "ship" && args.Contains("--defaults"))
{
    int events = args.SkipWhile(a => a != "--events").Skip(1).Select(int.Parse).FirstOrDefault(1_000_000);
    await ShippingBenchmark.RunDefaultsComparisonAsync(events);
    return;
}

if (args.Length > 0 && args[0] == "faults" && args.Contains("--floor"))
{
    int[] seeds = [.. args.SkipWhile(a => a != "--seeds").Skip(1).Take(1).SelectMany(s => s.Split(',')).Select(int.Parse).DefaultIfEmpty(20261129)];
    FaultFloor.Run(seeds, batchEvents: 20_000, immediateEvents: 40);
    return;
}

if (args.Length > 0 && args[0] == "faults")
{
    int limit = args.SkipWhile(a => a != "--limit").Skip(1).Select(int.Parse).FirstOrDefault(180);
    int seed = args.SkipWhile(a => a != "--seed").Skip(1).Select(int.Parse).FirstOrDefault(20261129);
    await FaultRun.RunAsync(batchEvents: 20_000, immediateEvents: 40, threads: 8, outage: TimeSpan.FromSeconds(8), limit: TimeSpan.FromSeconds(limit), seed: seed, trace: args.Contains("--trace"),
        mix: args.SkipWhile(a => a != "--mix").Skip(1).Select(m => Enum.Parse<FaultMix>(m, ignoreCase: true)).FirstOrDefault(FaultMix.Weighted));
    return;
}

if (args.Length > 0 && args[0] == "ship")
{
    int events = args.SkipWhile(a => a != "--events").Skip(1).Select(int.Parse).FirstOrDefault(1_000_000);
    await ShippingBenchmark.RunAsync(events);
    return;
}

if (args.Length > 0 && args[0] == "dashboard")
{
    int stored = args.SkipWhile(a => a != "--events").Skip(1).Select(int.Parse).FirstOrDefault(1_000_000);
    string? database = args.SkipWhile(a => a != "--postgres").Skip(1).FirstOrDefault() ?? Environment.GetEnvironmentVariable("INSTRUMENTATION_TEST_POSTGRES");
    await DashboardBenchmark.RunAsync(stored, database);
    return;
}

if (args.Length > 0 && args[0] == "ingest")
{
    string? postgres = args.SkipWhile(a => a != "--postgres").Skip(1).FirstOrDefault() ?? Environment.GetEnvironmentVariable("INSTRUMENTATION_TEST_POSTGRES");
    postgres = string.IsNullOrWhiteSpace(postgres) ? null : postgres;
    int perRun = args.SkipWhile(a => a != "--events").Skip(1).Select(int.Parse).FirstOrDefault(400_000);
    int writers = args.SkipWhile(a => a != "--postgres-writers").Skip(1).Select(int.Parse).FirstOrDefault(Instrumentation.Collector.Storage.StorageOptions.DefaultPostgreSqlWriters);
    int[] batches = [.. args.Select((a, i) => (a, i)).Where(p => p.a == "--batch" && p.i + 1 < args.Length).Select(p => int.Parse(args[p.i + 1], System.Globalization.CultureInfo.InvariantCulture))];
    int runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(int.Parse).FirstOrDefault(3);
    IngestBenchmark.Shape = Enum.Parse<IngestBenchmark.ContextShape>(args.SkipWhile(a => a != "--context").Skip(1).FirstOrDefault("one"), ignoreCase: true);
    await IngestBenchmark.RunAsync(postgres, perRun, writers, sqlite: !args.Contains("--postgres-only"), batches.Length > 0 ? batches : [50, 1000], runs);
    return;
}

if (args.Length > 0 && args[0] == "alloc")
{
    AllocationProbe.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(HotPathBenchmarks).Assembly).Run(args);
