using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Instrumentation.Dashboard.Tests;

/// <summary>
/// <c>dotnet run --project samples/NotebookActivity -- --serve</c> as a user runs it: the sample, as a child process,
/// prints the dashboard's address, the dashboard answers there, and SIGTERM stops it with exit code 0.
/// </summary>
public sealed class SampleServeTests
{
    // Generous limits for a loaded 2-core machine: they bound a hung child, they measure nothing.
    private static readonly TimeSpan StartLimit = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan StopLimit = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Serve_PrintsTheDashboardAddress_ServesIt_AndExitsCleanlyOnSigterm()
    {
        Assert.True(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGTERM needs a POSIX system.");
        string sample = typeof(SampleServeTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "NotebookActivityPath").Value!;
        Assert.True(File.Exists(sample), $"The sample was not built at {sample}.");

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(sample);
        start.ArgumentList.Add("--serve");
        using var child = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        Task<string> errors = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            Uri dashboard = await ReadDashboardAddressAsync(child, output);
            Assert.True(dashboard.IsLoopback, $"The sample's dashboard is at {dashboard}, not on loopback.");

            using (var http = new HttpClient())
            {
                using HttpResponseMessage page = await http.GetAsync(dashboard, TestContext.Current.CancellationToken);
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                string html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                Assert.Contains("<h1>Overview</h1>", html, StringComparison.Ordinal);
            }

            Assert.Equal(0, Kill(child.Id, SigTerm));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            stop.CancelAfter(StopLimit);
            output.Append(await child.StandardOutput.ReadToEndAsync(stop.Token));
            await child.WaitForExitAsync(stop.Token);
            Assert.True(child.ExitCode == 0, $"exit code {child.ExitCode}\n{output}\n{await errors}");
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task<Uri> ReadDashboardAddressAsync(Process child, System.Text.StringBuilder output)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(StartLimit);
        while (await child.StandardOutput.ReadLineAsync(limit.Token) is string line)
        {
            output.AppendLine(line);
            if (line.StartsWith("Dashboard: ", StringComparison.Ordinal))
            {
                return new Uri(line["Dashboard: ".Length..].Trim());
            }
        }

        Assert.Fail($"The sample ended (exit code {(child.HasExited ? child.ExitCode : -1)}) without printing its dashboard's address:\n{output}");
        throw new UnreachableException();
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
