using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Instrumentation.Collector.Storage;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The built service as its own process (as an operator, systemd or a container runtime runs it), configured through
/// environment variables, stopped with a signal while a request is in flight.
/// </summary>
public sealed partial class ShutdownTests
{
    private const int SIGINT = 2;
    private const int SIGTERM = 15;

    private static readonly string Service = Path.Combine(AppContext.BaseDirectory, "Instrumentation.Collector.dll");

    [Theory]
    [InlineData(SIGTERM)]
    [InlineData(SIGINT)]
    public async Task A_signal_lets_the_in_flight_request_finish_closes_the_database_and_exits_0(int signal)
    {
        Assert.True(File.Exists(Service), "the collector was not built at " + Service);
        string folder = Directory.CreateTempSubdirectory("instrumentation-shutdown-").FullName;
        string database = Path.Combine(folder, "events.db");
        try
        {
            using var child = new ChildProcess(Service, folder, new Dictionary<string, string>
            {
                ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
                ["Collector__DatabasePath"] = database,
            });
            string line = await child.WaitForLineAsync(l => l.Contains("Now listening on: ", StringComparison.Ordinal));
            var address = new Uri(ListeningOn().Match(line).Groups[1].Value);

            using (var client = new HttpClient { BaseAddress = address })
            {
                using var content = new StringContent(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate"), Encoding.UTF8, "application/json");
                using HttpResponseMessage before = await client.PostAsync("/logs", content, TestContext.Current.CancellationToken);
                Assert.Equal(System.Net.HttpStatusCode.OK, before.StatusCode);
            }

            // A batch whose body is half sent when the signal arrives. "Expect: 100-continue" makes the server say when
            // the handler starts reading: from then on the request is in flight.
            byte[] body = Encoding.UTF8.GetBytes(TestCollector.Batch(TestCollector.Event(Guid.CreateVersion7()), TestCollector.Event(Guid.CreateVersion7())));
            await using RawHttp raw = await RawHttp.ConnectAsync(address);
            await raw.SendAsync(RawHttp.Post("/logs/batch", $"Content-Length: {body.Length}\r\nExpect: 100-continue\r\n"));
            Assert.Equal("HTTP/1.1 100 Continue", await raw.ReadLineAsync());
            Assert.Equal(string.Empty, await raw.ReadLineAsync());
            await raw.SendAsync(body[..(body.Length / 2)]);

            Assert.Equal(0, Kill(child.Id, signal));
            await child.WaitForLineAsync(l => l.Contains("Application is shutting down", StringComparison.Ordinal));
            await raw.SendAsync(body[(body.Length / 2)..]);
            RawResponse inFlight = await raw.ReadToEndAsync();
            int exitCode = await child.WaitForExitAsync();

            Assert.True(inFlight.Status == 200, "the in-flight request was answered " + inFlight.Status + ": " + inFlight.Body);
            Assert.True(exitCode == 0, $"exit code {exitCode}; output:{Environment.NewLine}{child.Output}");
            Assert.DoesNotContain("fail:", child.Output, StringComparison.Ordinal);

            // Closed cleanly: the last connection checkpointed the write-ahead log into the file and removed it.
            Assert.False(File.Exists(database + "-wal") && new FileInfo(database + "-wal").Length > 0, "the write-ahead log was left behind");
            Assert.False(File.Exists(database + "-rollups-wal") && new FileInfo(database + "-rollups-wal").Length > 0, "the rollup file's write-ahead log was left behind");
            Assert.True(File.Exists(database + "-rollups"), "no rollup file beside the database");
            using (var connection = new SqliteConnection($"Data Source={database};Pooling=False"))
            {
                connection.Open();
                using SqliteCommand check = connection.CreateCommand();
                check.CommandText = "PRAGMA integrity_check;";
                Assert.Equal("ok", check.ExecuteScalar());
            }

            await using IEventStore store = await EventStoreFactory.OpenAsync(new StorageOptions(), database, TestContext.Current.CancellationToken);
            Assert.Equal(3, (await store.ReadAllAsync()).Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_second_collector_on_the_same_SQLite_file_exits_1_saying_so_and_a_start_after_the_first_stopped_serves()
    {
        Assert.True(File.Exists(Service), "the collector was not built at " + Service);
        string folder = Directory.CreateTempSubdirectory("instrumentation-onefile-").FullName;
        string database = Path.Combine(folder, "events.db");
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["Collector__DatabasePath"] = database,
        };
        try
        {
            using var first = new ChildProcess(Service, folder, environment);
            await first.WaitForLineAsync(l => l.Contains("Now listening on: ", StringComparison.Ordinal));

            using (var second = new ChildProcess(Service, folder, environment))
            {
                int refused = await second.WaitForExitAsync();
                Assert.True(refused == 1, $"exit code {refused}; output:{Environment.NewLine}{second.Output}");
                Assert.Contains($"The SQLite database '{database}' is in use by another collector", second.Output, StringComparison.Ordinal);
                Assert.DoesNotContain("Unhandled exception", second.Output, StringComparison.Ordinal);
            }

            Assert.Equal(0, Kill(first.Id, SIGTERM));
            Assert.Equal(0, await first.WaitForExitAsync());

            using var third = new ChildProcess(Service, folder, environment);
            string line = await third.WaitForLineAsync(l => l.Contains("Now listening on: ", StringComparison.Ordinal));
            using var client = new HttpClient { BaseAddress = new Uri(ListeningOn().Match(line).Groups[1].Value) };
            using var content = new StringContent(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate"), Encoding.UTF8, "application/json");
            using HttpResponseMessage stored = await client.PostAsync("/logs", content, TestContext.Current.CancellationToken);
            Assert.Equal(System.Net.HttpStatusCode.OK, stored.StatusCode);
            Assert.Equal(0, Kill(third.Id, SIGTERM));
            Assert.Equal(0, await third.WaitForExitAsync());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Invalid_configuration_from_appsettings_and_the_environment_exits_2_with_the_reasons_on_stderr()
    {
        Assert.True(File.Exists(Service), "the collector was not built at " + Service);
        string folder = Directory.CreateTempSubdirectory("instrumentation-badconfig-").FullName;
        try
        {
            // The working directory is the content root: its appsettings.json is read, then the environment.
            await File.WriteAllTextAsync(Path.Combine(folder, "appsettings.json"), """{"Collector":{"MaxPageSize":0}}""", TestContext.Current.CancellationToken);
            using var child = new ChildProcess(Service, folder, new Dictionary<string, string>
            {
                ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
                ["Collector__MaxEventsPerBatch"] = "0",
                ["Collector__IngestKeys__0"] = "abc",
            });

            int exitCode = await child.WaitForExitAsync();

            Assert.Equal(2, exitCode);
            Assert.Contains("Collector:MaxEventsPerBatch must be from 1", child.Output, StringComparison.Ordinal);
            Assert.Contains("Collector:IngestKeys:0 is 3 characters long", child.Output, StringComparison.Ordinal);
            Assert.Contains("Collector:MaxPageSize must be from 1", child.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", child.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [GeneratedRegex(@"Now listening on: (\S+)")]
    private static partial Regex ListeningOn();

    /// <summary>The service in a child process, its output gathered line by line.</summary>
    private sealed class ChildProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly SemaphoreSlim _arrived = new(0);

        public ChildProcess(string dll, string workingDirectory, Dictionary<string, string> environment)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.ArgumentList.Add(dll);
            foreach ((string name, string value) in environment)
            {
                start.Environment[name] = value;
            }

            start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
            start.Environment.Remove("DOTNET_ENVIRONMENT");
            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, e) => Add(e.Data);
            _process.ErrorDataReceived += (_, e) => Add(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Id => _process.Id;

        public string Output => string.Join(Environment.NewLine, _lines);

        public async Task<string> WaitForLineAsync(Func<string, bool> match)
        {
            DateTime limit = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                if (_lines.FirstOrDefault(match) is { } line)
                {
                    return line;
                }

                Assert.False(_process.HasExited && _arrived.CurrentCount == 0 && !_lines.Any(match), "the collector ended: " + Output);
                Assert.True(DateTime.UtcNow < limit, "no such line within 60 s; output: " + Output);
                await _arrived.WaitAsync(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
            }
        }

        public async Task<int> WaitForExitAsync()
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
            _arrived.Dispose();
        }

        private void Add(string? line)
        {
            if (line is not null)
            {
                _lines.Enqueue(line);
                _arrived.Release();
            }
        }
    }
}
