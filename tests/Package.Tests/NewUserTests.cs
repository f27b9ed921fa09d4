using System.Reflection;

namespace Instrumentation.Package.Tests;

public sealed class NewUserTests : IDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

    private readonly string _root = Directory.CreateTempSubdirectory("instrumentation-newuser-").FullName;

    // A version no earlier run used, so NuGet's cache cannot hand back a stale package.
    private readonly string _version = "0.0.0-newuser." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_fresh_console_project_referencing_the_package_records_both_event_forms()
    {
        string repository = typeof(NewUserTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
        string feed = Path.Combine(_root, "feed");
        string app = Path.Combine(_root, "app");

        DotNetCli.Run(repository, StepTimeout, "pack", "src/Runtime/Runtime.csproj", "-c", "Release", "-o", feed, "-p:Version=" + _version, "--nologo", "-nodeReuse:false");
        Assert.True(File.Exists(Path.Combine(feed, $"Instrumentation.{_version}.nupkg")), "the package was not packed");

        DotNetCli.Run(_root, StepTimeout, "new", "console", "-o", app, "-n", "NewUserApp", "--framework", "net10.0");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), UserProgram);
        DotNetCli.Run(app, StepTimeout, "add", "package", "Instrumentation", "--version", _version);

        string output = DotNetCli.Run(app, StepTimeout, "run");

        Assert.Contains("""{"type":"greeting","data":{"name":"Ada","duration_ms":1500}}""", output, StringComparison.Ordinal);
        Assert.Contains("""{"type":"add","data":{"a":2,"b":3,"duration_ms":""", output, StringComparison.Ordinal);
        Assert.Contains("sum=5", output, StringComparison.Ordinal);
        Assert.Contains("events=2", output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
            string cached = Path.Combine(
                Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
                "instrumentation",
                _version);
            if (Directory.Exists(cached))
            {
                Directory.Delete(cached, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder is not a test failure.
        }
    }

    /// <summary>What a newcomer writes: no properties of their own, just the attribute.</summary>
    private const string UserProgram = """
        using System.Text.Json;
        using Instrumentation;
        using Instrumentation.Testing;

        var sink = new InMemoryLogEventSink();
        int sum;
        using (LogEventHub.Attach(sink))
        {
            Events.Greeting("Ada", TimeSpan.FromSeconds(1.5));
            sum = Calculator.Add(2, 3);
        }

        foreach (LogEventPayload e in sink.Events)
        {
            using JsonDocument json = JsonDocument.Parse(e.ToJson());
            Console.WriteLine("{\"type\":" + json.RootElement.GetProperty("type").GetRawText() + ",\"data\":" + json.RootElement.GetProperty("data").GetRawText() + "}");
        }

        Console.WriteLine($"sum={sum}");
        Console.WriteLine($"events={sink.Count}");

        static partial class Events
        {
            [LogEvent(Priority.Immediate)]
            public static partial void Greeting(string name, TimeSpan duration);
        }

        static class Calculator
        {
            [LogEvent(Priority.Batch)]
            public static int Add(int a, int b) => a + b;
        }
        """;
}
