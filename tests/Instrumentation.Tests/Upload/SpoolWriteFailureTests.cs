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
        const int Events = 12_000;
        await using ScriptedCollector collector = await ScriptedCollector.StartAsync();
        collector.Default = Refuse;
        string probe = AppContext.BaseDirectory.Replace("Instrumentation.Tests", "ExitProbe", StringComparison.Ordinal) + "ExitProbe.dll";
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0"; // W^X maps code through a file the size limit would refuse
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("trap '' XFSZ; ulimit -f 1024; exec dotnet \"$0\" diskfull \"$1\" \"$2\" \"$3\"");
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(collector.Endpoint.ToString());
        start.ArgumentList.Add(_spool);
        start.ArgumentList.Add(Events.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using Process process = Process.Start(start)!;
        Task<string> errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            if (line != "recorded " + Events)
            {
                Assert.Fail($"the probe said '{line}': {await ErrorsSoFar(process, errors)}");
            }

            Assert.True(SegmentBytes() is > 1024 * 1024 - 70 * 1024 and <= 1024 * 1024, $"the spool stops below the file size limit, cut back to a whole record ({SegmentBytes()} bytes)");

            collector.Default = null; // the collector is back: everything left must be delivered, or counted
            await process.StandardInput.WriteLineAsync("flush");
            await process.StandardInput.FlushAsync(TestContext.Current.CancellationToken);
            string rest = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));

            // Before the fix the records of the failed write were read back as corrupt: never uploaded, never counted,
            // still pending, and the flush did not complete.
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
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        // What the probe left reads cleanly: no torn record, nothing more to send.
        using IDurableQueue reopened = SpoolDirectory.Open(new LogManagerOptions { Endpoint = collector.Endpoint, SpoolDirectory = _spool }, DateTimeOffset.UtcNow, NullLogger.Instance);
        Assert.Equal(0, reopened.CorruptBytes);
        Assert.Equal(0, reopened.ReplayedCount);
    }

    private long SegmentBytes() => Directory.GetFiles(_spool, "*.seg").Sum(f => new FileInfo(f).Length);

    private static async Task<string> ErrorsSoFar(Process process, Task<string> errors)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        return await errors;
    }

    private static Task<bool> Refuse(HttpContext context, ReceivedRequest request)
    {
        context.Abort();
        return Task.FromResult(false);
    }
}
