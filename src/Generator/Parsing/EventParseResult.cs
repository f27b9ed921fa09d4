using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// What the parser made of one <c>[LogEvent]</c> method: the model (null when an error stops generation) and
    /// the diagnostics, kept apart so that a change that only moves a location leaves the model, and the
    /// emitted code, cached.
    /// </summary>
    internal sealed record EventParseResult(
        EventModel? Model,
        string? EventName,
        string? PayloadKey,
        string MethodDisplayName,
        LocationInfo? Location,
        EquatableArray<DiagnosticInfo> Diagnostics)
    {
        /// <summary>Where the <c>[LogEvent]</c> attribute is (diagnostics about its arguments go there).</summary>
        public LocationInfo? AttributeLocation { get; init; }
    }

    /// <summary>What the parser made of one call site or method-group use of a hooked method.</summary>
    internal sealed record CallSiteParseResult(CallSiteModel? CallSite, DiagnosticInfo? Diagnostic);
}

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// What the call-site step looks calls up in: the simple names of every hooked method (sorted; the syntactic
    /// pre-filter) and the documentation ids of the hooked methods of referenced assemblies (sorted).
    /// </summary>
    internal sealed record HookIndex(EquatableArray<string> Names, EquatableArray<string> ExternalKeys);
}
