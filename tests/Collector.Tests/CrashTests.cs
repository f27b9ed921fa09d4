using System.Diagnostics;
using System.Text.Json;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// Durable mode against SIGKILL: a child process records events while the collector is down and is killed at a
/// random point; a new process with the same spool and the collector up delivers every event that had reached the
/// disk before the kill (the last "durable N" the child printed), each stored exactly once.
/// </summary>
public sealed class CrashTests
{
    private static readonly string Probe =
        AppContext.BaseDirectory.Replace("Collector.Tests", "ExitProbe", StringComparison.Ordinal) + "ExitProbe.dll";

    [Fact]
    public async Task Events_on_disk_before_a_SIGKILL_are_delivered_exactly_once_after_restart()
    {
        Assert.True(File.Exists(Probe), "the probe was not built at " + Probe);
        int seed = Environment.TickCount;
        var random = new Random(seed);
        for (int round = 0; round < 4; round++)
        {
            int killAfterDurable = random.Next(100, 3000);
            await RunRoundAsync(killAfterDurable, $"seed {seed}, round {round}, kill after {killAfterDurable} durable");
        }
    }

    [Fact]
    public async Task A_second_process_on_the_same_spool_directory_gets_a_clear_error()
    {
        Assert.True(File.Exists(Probe), "the probe was not built at " + Probe);
        string spool = Directory.CreateTempSubdirectory("instrumentation-lock-").FullName;
        try
        {
            using Process holder = Start("durable", "http://127.0.0.1:9/", spool, "10");
            var started = new TaskCompletionSource();
            holder.OutputDataReceived += (_, e) => started.TrySetResult();
            holder.ErrorDataReceived += (_, _) => { };
            holder.BeginOutputReadLine();
            holder.BeginErrorReadLine();
            await started.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken); // it printed: it holds the spool

            var error = Assert.Throws<InvalidOperationException>(() => LogManager.Start(new LogManagerOptions
            {
                Endpoint = new Uri("http://127.0.0.1:9/"),
                SpoolDirectory = spool,
                FlushOnProcessExit = false,
            }));

            Assert.Contains("in use by another process", error.Message, StringComparison.Ordinal);
            holder.Kill();
            await holder.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
        finally
        {
            Directory.Delete(spool, recursive: true);
        }
    }

    private static async Task RunRoundAsync(int killAfterDurable, string round)
    {
        string spool = Directory.CreateTempSubdirectory("instrumentation-crash-").FullName;
        await using TestCollector collector = await TestCollector.StartAsync();
        try
        {
            Uri endpoint = collector.Running.Address;
            await collector.StopAsync(); // the collector is down while the child records

            long lastDurable = 0;
            using (Process child = Start("durable", endpoint.ToString(), spool, "100000"))
            {
                child.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is { } line && line.StartsWith("durable ", StringComparison.Ordinal))
                    {
                        Interlocked.Exchange(ref lastDurable, long.Parse(line["durable ".Length..], System.Globalization.CultureInfo.InvariantCulture));
                    }
                };
                child.ErrorDataReceived += (_, _) => { };
                child.BeginOutputReadLine();
                child.BeginErrorReadLine();
                DateTime limit = DateTime.UtcNow.AddSeconds(60);
                while (Interlocked.Read(ref lastDurable) < killAfterDurable)
                {
                    Assert.False(child.HasExited, $"{round}: the child ended early with {(child.HasExited ? child.ExitCode : 0)}");
                    Assert.True(DateTime.UtcNow < limit, $"{round}: the child did not make {killAfterDurable} events durable in time");
                    await Task.Delay(5, TestContext.Current.CancellationToken);
                }

                child.Kill(); // SIGKILL: no flush, no shutdown, no finally blocks
                await child.WaitForExitAsync(TestContext.Current.CancellationToken);
            }

            // What the child reported last before it died; anything it reported after the kill signal was sent is also on disk.
            lastDurable = Interlocked.Read(ref lastDurable);
            await collector.RestartAsync();
            using (Process replay = Start("replay", endpoint.ToString(), spool))
            {
                Task<string> output = replay.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
                Task<string> errors = replay.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
                Assert.True(replay.WaitForExit(TimeSpan.FromSeconds(120)), $"{round}: the replaying process did not finish");
                Assert.True(replay.ExitCode == 0, $"{round}: replay failed: {await output} {await errors}");
            }

            IReadOnlyDictionary<Guid, long> stored = await collector.Running.Store.CountByIdAsync();
            Assert.All(stored.Values, count => Assert.Equal(1, count));
            HashSet<int> indexes = [.. (await collector.Running.Store.ReadAllAsync("tick"))
                .Select(json => JsonDocument.Parse(json).RootElement.GetProperty("data").GetProperty("index").GetInt32())];
            int[] missing = [.. Enumerable.Range(0, (int)lastDurable).Where(i => !indexes.Contains(i))];
            Assert.True(missing.Length == 0, $"{round}: {missing.Length} events that were durable before the kill are missing, first {string.Join(",", missing.Take(5))}");
            Assert.Equal(indexes.Count, stored.Count);
        }
        finally
        {
            Directory.Delete(spool, recursive: true);
        }
    }

    private static Process Start(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Probe);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }
}
