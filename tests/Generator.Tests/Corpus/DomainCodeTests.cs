namespace Instrumentation.Generator.Tests.Corpus;

/// <summary>
/// A realistic body of code (an ordering service: inventory, payments, shipping; records, structs, enums, async, ref,
/// out, optional and named arguments, extension methods, exception filters) with [LogEvent] on most methods, compiled
/// as a user would (nullable, warnings as errors) and run with and without the generator.
/// </summary>
public class DomainCodeTests
{
    private static readonly string[] Sources =
    [
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", "Domain", "OrderingService.cs.txt")),
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", "Domain", "ScenarioProgram.cs.txt")),
    ];

    [Fact]
    public void An_ordering_service_compiles_cleanly_and_runs_the_same_hooked()
    {
        const string expected = "True;True;False;False;True;17.98;card-1000;True;True;empty;True;False;104;DHL/1;missing;NOPE;00000001;1;90.0;4/8/2";

        CorpusHarness.Build build = CorpusHarness.AssertSameOutput(expected, Sources);

        // Every call of a hooked method in the scenario and inside the service is intercepted.
        Assert.True(CorpusHarness.InterceptedCalls(build) >= 35, "only " + CorpusHarness.InterceptedCalls(build) + " calls were hooked");
        string events = string.Join("\n", build.GeneratedSources);
        foreach (string payload in new[] { "OrderPlacedEvent", "OrderCancelledEvent", "CouponRejectedEvent", "GatewayChargeEvent", "PlaceAsyncEvent", "PrintEvent", "TaxEvent" })
        {
            Assert.Contains("sealed class " + payload + " ", events, StringComparison.Ordinal);
        }
    }
}
