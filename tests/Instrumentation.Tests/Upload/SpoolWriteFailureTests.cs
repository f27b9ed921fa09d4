using System.Diagnostics;
using Instrumentation.Spool;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace Instrumentation.Tests.Upload;

/// <summary>
/// A spool write that fails for real: a child process runs under a file size limit (<c>ulimit -f</c>, with SIGXFSZ
/// ignored, so a write past it fails with EFBIG after writing what fits: a real torn write), while the uploader is
/// behind (the collector refuses, few events fit in memory).
/// </summary>
public sealed class SpoolWriteFailureTests : IDisposable
{
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "instrumentation-diskfull-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task A_real_write_failure_while_the_uploader_is_behind_loses_nothing_uncounted_and_the_flush_completes()
    {
        await using ScriptedCollector collector = await ScriptedCollector.StartAsync();
        collector.Default = ScriptedCollector.DropConnection;
        using Process process = StartProbe(collector);
        try
        {
            await WaitForRecordedAsync(process);
            // The segment that reached the limit stops below it, cut back to a whole record; the next records go to a
            // new segment (a new file can grow again), which stays below the limit too.
            long[] sizes = SegmentSizes();
            string seen = string.Join(", ", sizes);
            Assert.True(sizes.All(size => size <= Limit), $"no segment passes the file size limit ({seen})");
            Assert.True(sizes.Any(size => size > Limit - (70 * 1024)), $"a segment reached the limit and was cut back to a whole record ({seen})");
            Assert.True(sizes.Length >= 2, $"the records after the failed write went to a new segment ({seen})");

            collector.Default = null; // the collector is back: everything left must be delivered, or counted
            await process.StandardInput.WriteLineAsync("flush");
            await process.StandardInput.FlushAsync(TestContext.Current.CancellationToken);
            string rest = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));

            // Before the fix EFBIG escaped the spool (.NET throws it as ArgumentOutOfRangeException): the loop failed
            // on every event, never took them all, and "recorded" was never printed. With an IOException (ENOSPC) the
            // records of the failed write were read back as corrupt: uncounted, pending, and the flush never completed.
            Assert.Contains("flushed", rest, StringComparison.Ordinal);
            string[] counts = rest.Split('\n').Single(l => l.StartsWith("uploaded ", StringComparison.Ordinal)).Split(' ');
            (long uploaded, long dropped, long pending) = (long.Parse(counts[1]), long.Parse(counts[3]), long.Parse(counts[5]));
            Assert.Equal(0, pending);
            Assert.Equal(Events, uploaded + dropped);
            Assert.Equal(uploaded, collector.Stored.Count);
            Assert.All(collector.Stored.Values, n => Assert.Equal(1, n)); // nothing uploaded twice
        }
        finally
        {
            Stop(process);
        }

        // What the probe left reads cleanly: no torn record, nothing more to send.
        using IDurableQueue reopened = SpoolDirectory.Open(new LogManagerOptions { SpoolDirectory = _spool }, DateTimeOffset.UtcNow, NullLogger.Instance);
        Assert.Equal(0, reopened.CorruptBytes);
        Assert.Equal(0, reopened.ReplayedCount);
    }

    [Fact]
    public async Task Killed_while_its_writes_fail_the_next_start_sends_every_durable_event_once()
    {
        await using ScriptedCollector collector = await ScriptedCollector.StartAsync();
        collector.Default = ScriptedCollector.DropConnection;
        long durable;
        using (Process process = StartProbe(collector))
        {
            try
            {
                durable = await WaitForRecordedAsync(process);
            }
            finally
            {
                Stop(process); // SIGKILL: no flush, no dispose
            }
        }

        collector.Default = null;
        await using var up = await UploadHarness.StartAsync(o => o.SpoolDirectory = _spool, start: false);
        LogManagerStatistics replayed = up.Manager.GetStatistics();
        Assert.InRange(replayed.EventsReplayed, durable, Events); // everything reported durable is there; torn records are not
        up.Manager.StartCore(attachToHub: false, registerProcessExit: false);
        await up.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(replayed.EventsReplayed, up.Collector.Stored.Count);
        Assert.Empty(collector.Stored); // the probe never reached the collector
        Assert.All(up.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    private const int Events = 12_000;

    private const long Limit = 1024 * 1024;

    /// <summary>Starts the probe under a 1 MiB file size limit, SIGXFSZ ignored: a write past it fails with EFBIG after writing what fits.</summary>
    private Process StartProbe(ScriptedCollector collector)
    {
        string probe = AppContext.BaseDirectory.Replace("Instrumentation.Tests", "ExitProbe", StringComparison.Ordinal) + "ExitProbe.dll";
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0"; // W^X maps code through a file the size limit would refuse
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"trap '' XFSZ; ulimit -f {Limit / 1024}; exec dotnet \"$0\" diskfull \"$1\" \"$2\" \"$3\"");
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(collector.Endpoint.ToString());
        start.ArgumentList.Add(_spool);
        start.ArgumentList.Add(Events.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Process.Start(start)!;
    }

    /// <summary>Waits for the probe to say it recorded everything; returns how many events it reported durable then.</summary>
    private static async Task<long> WaitForRecordedAsync(Process process)
    {
        string? line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        if (line is null || !line.StartsWith("recorded " + Events + " durable ", StringComparison.Ordinal))
        {
            Stop(process);
            Assert.Fail($"the probe said '{line}': {await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken)}");
        }

        return long.Parse(line.Split(' ')[3], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    private long[] SegmentSizes() => [.. Directory.GetFiles(_spool, "*.seg").Order(StringComparer.Ordinal).Select(f => new FileInfo(f).Length)];

}
