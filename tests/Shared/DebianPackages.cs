using System.Diagnostics;

namespace Instrumentation.Testing.Shared;

/// <summary>
/// Installs a Debian package that a test needs (a real PostgreSQL server, Chromium) when its program is missing, so that
/// the README's plain <c>dotnet test</c> works on a fresh machine of the kind this project runs on (Debian, as root,
/// with Debian's package registry reachable), exactly as <c>.ci/run</c> does. Elsewhere it only says what to install.
/// </summary>
/// <remarks>
/// Several test processes may need the same package at once (the collector's and the dashboard's tests run in
/// parallel), and apt holds a lock of its own that a second apt-get fails on: the installs take turns through
/// <c>flock</c> on one lock file, and each looks again for the program once it holds the lock.
/// </remarks>
internal static class DebianPackages
{
    private const string LockFile = "/tmp/instrumentation-test-packages.lock";
    private static readonly SemaphoreSlim s_oneAtATime = new(1, 1);

    /// <summary>Makes sure <paramref name="program"/> exists, installing <paramref name="package"/> when it does not.</summary>
    /// <returns>Null when the program is there; otherwise why it is not and how to get it.</returns>
    public static async Task<string?> EnsureAsync(string package, string program)
    {
        if (File.Exists(program))
        {
            return null;
        }

        string manual = $"install Debian's '{package}' package (apt-get install -y {package}) so that {program} exists";
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/bin/apt-get") || !File.Exists("/usr/bin/flock"))
        {
            return $"{program} is missing: {manual}.";
        }

        await s_oneAtATime.WaitAsync();
        try
        {
            string script = $"test -e '{program}' || {{ apt-get update && apt-get install -y {package}; }}";
            var start = new ProcessStartInfo("/usr/bin/flock", [LockFile, "/bin/sh", "-c", script])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
            using Process process = Process.Start(start)!;
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> errors = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return $"installing '{package}' took over 10 minutes; {manual}.";
            }

            if (File.Exists(program))
            {
                return null;
            }

            string tail = (await errors + await output).Trim();
            tail = tail.Length > 2000 ? tail[^2000..] : tail;
            return $"installing '{package}' failed (apt-get exited with {process.ExitCode}): {tail}; {manual}.";
        }
        finally
        {
            s_oneAtATime.Release();
        }
    }
}
