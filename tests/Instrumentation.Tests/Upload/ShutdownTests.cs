using System.Diagnostics;

namespace Instrumentation.Tests.Upload;

/// <summary>Shutdown delivers what it can within the deadline and never hangs.</summary>
public class ShutdownTests
{
    [Fact]
    public async Task DisposeAsync_delivers_pending_events_within_the_deadline()
    {
        UploadHarness harness = await UploadHarness.StartAsync();
        var events = Enumerable.Range(0, 12).Select(i => i % 4 == 0 ? UploadHarness.Immediate(index: i) : UploadHarness.Batch(index: i)).ToList();
        events.ForEach(harness.Manager.AddLog);

        await harness.Manager.DisposeAsync();

        Assert.Equal(events.Select(e => e.EventId).Order(), harness.Collector.Stored.Keys.Order());
        Assert.Equal(0, harness.Manager.PendingCount);
        Assert.Throws<ObjectDisposedException>(() => { _ = harness.Manager.FlushAsync(TestContext.Current.CancellationToken); });
        await harness.Collector.DisposeAsync();
    }

    [Fact]
    public async Task When_the_server_is_down_shutdown_gives_up_at_the_deadline_and_counts_the_loss()
    {
        UploadHarness harness = await UploadHarness.StartAsync(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        harness.Collector.Default = ScriptedCollector.DropConnection;
        harness.Manager.AddLog(UploadHarness.Batch(index: 1));
        harness.Manager.AddLog(UploadHarness.Batch(index: 2));

        Task stopping = harness.Manager.DisposeAsync().AsTask();
        await harness.WaitForRetried(2);
        Assert.False(stopping.IsCompleted);
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await stopping.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);

        LogManagerStatistics statistics = harness.Manager.GetStatistics();
        Assert.Equal(2, statistics.EventsDropped["shutdown"]);

        // Regression: the shutdown drop was counted beside the ledger, so the same two events also stayed pending.
        Assert.Equal(0, statistics.PendingCount);
        Assert.Equal(0, harness.Manager.PendingCount);
        Assert.Equal(statistics.EventsRecorded, statistics.EventsUploaded + statistics.EventsDeadLettered + statistics.EventsDropped.Values.Sum());
        await harness.Collector.DisposeAsync();
    }

    [Fact]
    public async Task A_console_app_that_just_returns_exits_promptly_and_delivers_its_events()
    {
        await using ScriptedCollector collector = await ScriptedCollector.StartAsync();
        // Built by the project reference into its own output folder (bin/<configuration>/net10.0), next to ours.
        string probe = AppContext.BaseDirectory.Replace("Instrumentation.Tests", "ExitProbe", StringComparison.Ordinal) + "ExitProbe.dll";
        Assert.True(File.Exists(probe), "the probe was not built at " + probe);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(collector.Endpoint.ToString());
        start.ArgumentList.Add("20");

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        bool exited = process.WaitForExit(TimeSpan.FromSeconds(60));
        if (!exited)
        {
            process.Kill(entireProcessTree: true);
        }

        Assert.True(exited, "the console app did not exit: something kept it alive");
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("recorded 21", await output, StringComparison.Ordinal);
        Assert.Equal(21, collector.Stored.Count);
        Assert.Equal(["/logs", "/logs/batch"], collector.Received.Select(r => r.Path).Order());
    }
}
