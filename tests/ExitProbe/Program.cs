using Instrumentation;

// Usage: ExitProbe <endpoint> <events>
var options = new LogManagerOptions { Endpoint = new Uri(args[0]), MaxWaitTime = TimeSpan.FromMinutes(10) };
LogManager.Start(options);
int count = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
ProbeEvents.Started(count);
for (int i = 0; i < count; i++)
{
    ProbeEvents.Tick(i);
}

Console.WriteLine("recorded " + (count + 1));
return 0; // no Dispose, no Flush: the process-exit hook must deliver the batch

internal static partial class ProbeEvents
{
    [LogEvent(Priority.Immediate)]
    public static partial void Started(int count);

    [LogEvent(Priority.Batch)]
    public static partial void Tick(int index);
}
