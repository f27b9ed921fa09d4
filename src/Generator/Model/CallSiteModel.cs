namespace Instrumentation.Generator.Model
{
    /// <summary>One call of a hooked method, located for <c>[InterceptsLocation]</c>.</summary>
    /// <param name="MethodKey">The documentation id of the called method (matches <see cref="EventModel.MethodKey"/>).</param>
    /// <param name="LocationVersion">The interceptable location's encoding version.</param>
    /// <param name="LocationData">The interceptable location's opaque data (a checksum of the file and a position).</param>
    /// <param name="DisplayLocation">Where the call is, for a comment (file, line, column).</param>
    internal sealed record CallSiteModel(string MethodKey, int LocationVersion, string LocationData, string DisplayLocation);
}
