namespace Instrumentation.Tests;

/// <summary>
/// Tests that need the process-wide <see cref="LogEventHub"/> to themselves run one at a time, after the parallel ones:
/// those that look at the buffer kept while no listener is attached, those whose fake clock must be the hub's clock
/// (one clock stamps an event for every listener, so two tests' fake clocks cannot both be in force), those that count
/// every event a listener receives, and those that change the process's environment variables. Tests that only look at
/// their own events (two hosts, uploads, options) are not in it and run in parallel, which several listeners allow.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HubCollection
{
    public const string Name = "LogEventHub";
}
