using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The built collector (<c>Instrumentation.Collector.dll</c>, copied next to the tests by the project reference) run as
/// an OS process with <c>dotnet exec</c>, as an operator runs it: configured through environment variables, listening
/// on <c>http://127.0.0.1:0</c>, its address read from Kestrel's "Now listening on" line. Disposing kills it (SIGKILL)
/// if it still runs, and every process started here is also killed when the test process exits, so a failing test
/// leaves none behind.
/// </summary>
internal sealed partial class CollectorProcess : IAsyncDisposable
{
    private static readonly string Service = Path.Combine(AppContext.BaseDirectory, "Instrumentation.Collector.dll");
    private static readonly ConcurrentDictionary<CollectorProcess, bool> Running = new();

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    static CollectorProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (CollectorProcess process in Running.Keys)
            {
                process.Kill();
            }
        };
    }

    private CollectorProcess(Process process) => _process = process;

    /// <summary>Where it listens.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>What it wrote so far (stdout and stderr).</summary>
    public string Output => string.Join(Environment.NewLine, _lines);

    /// <summary>Starts the collector with these settings (added to the test's environment) and waits until it listens.</summary>
    public static async Task<CollectorProcess> StartAsync(IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        Assert.True(File.Exists(Service), "the collector was not built at " + Service);
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Service);
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        var collector = new CollectorProcess(Process.Start(start)!);
        Running[collector] = true;
        collector._process.OutputDataReceived += (_, e) => collector.Add(e.Data);
        collector._process.ErrorDataReceived += (_, e) => collector.Add(e.Data);
        collector._process.EnableRaisingEvents = true;
        collector._process.Exited += (_, _) => collector._listening.TrySetException(new InvalidOperationException("the collector exited before it listened"));
        collector._process.BeginOutputReadLine();
        collector._process.BeginErrorReadLine();
        try
        {
            collector.Address = await collector._listening.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return collector;
        }
        catch (Exception exception)
        {
            await collector.DisposeAsync();
            throw new InvalidOperationException($"The collector process did not start ({exception.Message}); its output: {collector.Output}", exception);
        }
    }

    /// <summary>Kills it at once (SIGKILL, as <c>kill -9</c>: no shutdown, no flush) and waits until it is gone.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // never started or already reaped
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        Running.TryRemove(this, out _);
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        if (ListeningOn().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();
}
