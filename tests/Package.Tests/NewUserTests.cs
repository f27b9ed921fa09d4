using System.Reflection;

namespace Instrumentation.Package.Tests;

public sealed class NewUserTests : IDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

    private readonly string _root = Directory.CreateTempSubdirectory("instrumentation-newuser-").FullName;

    // A version no earlier run used, so NuGet's cache cannot hand back a stale package.
    private readonly string _version = "0.0.0-newuser." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture) + "." + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void A_fresh_console_project_referencing_the_package_records_both_event_forms()
    {
        string feed = Pack();
        string app = Path.Combine(_root, "app");

        DotNetCli.Run(_root, StepTimeout, "new", "console", "-o", app, "-n", "NewUserApp", "--framework", "net10.0");
        WriteNuGetConfig(app, feed);
        File.WriteAllText(Path.Combine(app, "Program.cs"), UserProgram);
        DotNetCli.Run(app, StepTimeout, "add", "package", "Instrumentation", "--version", _version);

        string output = DotNetCli.Run(app, StepTimeout, "run");

        Assert.Contains("""{"type":"greeting","data":{"name":"Ada","duration_ms":1500}}""", output, StringComparison.Ordinal);
        Assert.Contains("""{"type":"add","data":{"a":2,"b":3,"duration_ms":""", output, StringComparison.Ordinal);
        Assert.Contains("sum=5", output, StringComparison.Ordinal);
        Assert.Contains("events=2", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Issue 12: a class library declares the [LogEvent] methods, a console app references the library; both reference the
    /// package. Calls from the app of the library's hooked method are recorded, as are the library's own calls.
    /// </summary>
    [Fact]
    public void Calls_from_an_app_of_a_hooked_method_declared_in_a_library_are_recorded()
    {
        string feed = Pack();
        string library = Path.Combine(_root, "NotebookEngine");
        string app = Path.Combine(_root, "NotebookApp");
        WriteNuGetConfig(_root, feed);

        DotNetCli.Run(_root, StepTimeout, "new", "classlib", "-o", library, "-n", "NotebookEngine", "--framework", "net10.0");
        File.Delete(Path.Combine(library, "Class1.cs"));
        File.WriteAllText(Path.Combine(library, "Kernel.cs"), LibraryCode);
        DotNetCli.Run(library, StepTimeout, "add", "package", "Instrumentation", "--version", _version);

        DotNetCli.Run(_root, StepTimeout, "new", "console", "-o", app, "-n", "NotebookApp", "--framework", "net10.0");
        File.WriteAllText(Path.Combine(app, "Program.cs"), LibraryUserProgram);
        DotNetCli.Run(app, StepTimeout, "add", "package", "Instrumentation", "--version", _version);
        DotNetCli.Run(app, StepTimeout, "add", "reference", library);

        string output = DotNetCli.Run(app, StepTimeout, "run", "-p:TreatWarningsAsErrors=true");

        Assert.Contains("""{"type":"execute","data":{"cell_id":"from-app","duration_ms":""", output, StringComparison.Ordinal);
        Assert.Contains("""{"type":"execute","data":{"cell_id":"from-library","duration_ms":""", output, StringComparison.Ordinal);
        Assert.Contains("result=20", output, StringComparison.Ordinal);
        Assert.Contains("events=2", output, StringComparison.Ordinal);
    }

    private string Pack()
    {
        string repository = typeof(NewUserTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
        string feed = Path.Combine(_root, "feed");
        DotNetCli.Run(repository, StepTimeout, "pack", "src/Runtime/Runtime.csproj", "-c", "Release", "-o", feed, "-p:Version=" + _version, "--nologo", "-nodeReuse:false");
        Assert.True(File.Exists(Path.Combine(feed, $"Instrumentation.{_version}.nupkg")), "the package was not packed");
        return feed;
    }

    private static void WriteNuGetConfig(string directory, string feed) =>
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);

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

    private const string LibraryCode = """
        using Instrumentation;

        namespace NotebookEngine;

        public sealed class Kernel
        {
            [LogEvent(Priority.Batch)]
            public int Execute(string cellId) => cellId.Length;

            public int RunStartupCell() => Execute("from-library");
        }
        """;

    private const string LibraryUserProgram = """
        using System.Text.Json;
        using Instrumentation;
        using Instrumentation.Testing;
        using NotebookEngine;

        var sink = new InMemoryLogEventSink();
        int result;
        using (LogEventHub.Attach(sink))
        {
            var kernel = new Kernel();
            result = kernel.Execute("from-app") + kernel.RunStartupCell();
        }

        foreach (LogEventPayload e in sink.Events)
        {
            using JsonDocument json = JsonDocument.Parse(e.ToJson());
            Console.WriteLine("{\"type\":" + json.RootElement.GetProperty("type").GetRawText() + ",\"data\":" + json.RootElement.GetProperty("data").GetRawText() + "}");
        }

        Console.WriteLine($"result={result}");
        Console.WriteLine($"events={sink.Count}");
        """;
}
