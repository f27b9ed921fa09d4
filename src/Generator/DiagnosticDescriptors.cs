using Microsoft.CodeAnalysis;

namespace Instrumentation.Generator
{
    /// <summary>
    /// Every diagnostic the generator reports. IDs are stable; each has a section in docs/diagnostics.md that
    /// the help link points to.
    /// </summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "Instrumentation";
        private const string HelpBase = "https://github.com/instrumentation-dotnet/instrumentation/blob/main/docs/diagnostics.md#";

        public static readonly DiagnosticDescriptor GeneratorFailure = Create(
            "INST000",
            "The Instrumentation generator failed on this method or call",
            "The Instrumentation generator could not process {0} ({2}); {1}. Please report this with the code at this location.",
            DiagnosticSeverity.Warning);

        public static readonly DiagnosticDescriptor PartialMethodMustReturnVoid = Create(
            "INST001",
            "A [LogEvent] partial method must return void",
            "The [LogEvent] partial method '{0}' returns '{1}'; declare it 'void' (its generated body only records the event), or give it a body to have its calls hooked instead",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor GenericMethodOrType = Create(
            "INST002",
            "A [LogEvent] partial method cannot be generic or in a generic type",
            "The partial method '{0}' is generic or declared in a generic type; its generated body and payload cannot depend on type arguments. Give it a body to have its calls hooked (hooks can be generic), or move it to a non-generic type and remove its type parameters.",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor UnsupportedParameterModifier = Create(
            "INST003",
            "A [LogEvent] partial method cannot have ref, out or params parameters",
            "Parameter '{0}' of the [LogEvent] partial method '{1}' is '{2}'; pass it by value (an event records values, it cannot write back to the caller)",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor ContainingTypeNotPartial = Create(
            "INST004",
            "The type containing a [LogEvent] partial method must be partial",
            "Type '{0}' contains the [LogEvent] partial method '{1}' and must be declared 'partial' so the generator can add the method's body",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor UnsupportedParameterType = Create(
            "INST005",
            "Parameter type cannot be logged",
            "Parameter '{0}' of type '{1}' cannot be written to an event and is left out; mark it [NotLogged] to say so, or pass a supported type (string, bool, numbers, char, Guid, DateTime, DateTimeOffset, TimeSpan, enums, Uri, their nullable forms, or arrays and sequences of them)",
            DiagnosticSeverity.Warning);

        public static readonly DiagnosticDescriptor DuplicateEventName = Create(
            "INST006",
            "Event name is used more than once",
            "The event name '{0}' (payload type '{1}') is already used by '{2}'; give each [LogEvent] method in an assembly its own Name",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor CallNotHooked = Create(
            "INST007",
            "A [LogEvent] method used here is not hooked",
            "'{0}' is used here as {1}; calls made through it are not intercepted and record no event. Call the method directly, or wrap it in a lambda that calls it.",
            DiagnosticSeverity.Warning);

        public static readonly DiagnosticDescriptor DataNameCollision = Create(
            "INST008",
            "Two values of an event would have the same name",
            "Parameter '{0}' would be written as '{1}', which {2}; rename the parameter or mark it [NotLogged]",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor HookedMethodNotAccessible = Create(
            "INST009",
            "A hooked [LogEvent] method must be accessible within its assembly",
            "'{0}' is not accessible outside its type, so its calls cannot be hooked; {1}",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor MethodWithoutBody = Create(
            "INST010",
            "A [LogEvent] method needs a body or must be partial",
            "'{0}' has no body and is not a partial method; [LogEvent] goes on a partial method (the generator writes its body) or on a method with a body (its calls are hooked)",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor InvalidEventName = Create(
            "INST011",
            "Event name is empty",
            "The Name given to [LogEvent] on '{0}' is empty or white space; give a name, or leave Name out to use the method name in snake_case",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor PartialMethodAlreadyImplemented = Create(
            "INST012",
            "A [LogEvent] partial method must not have a body of its own",
            "The [LogEvent] partial method '{0}' already has an implementation; remove it (the generator writes the body), or make '{0}' an ordinary method to have its calls hooked",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor NotAnOrdinaryMethod = Create(
            "INST013",
            "[LogEvent] is not supported on this kind of member",
            "[LogEvent] on {0} records no event: {1}. {2}",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor SignatureNotExpressible = Create(
            "INST014",
            "Generated code cannot express this [LogEvent] method",
            "'{0}' cannot have [LogEvent]: {1}. {2}",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor CallCannotBeHooked = Create(
            "INST015",
            "This call of a [LogEvent] method is not hooked",
            "This call of '{0}' is not hooked and records no event: {1}. {2}",
            DiagnosticSeverity.Warning);

        public static readonly DiagnosticDescriptor PayloadTypeCollision = Create(
            "INST016",
            "The generated payload type's name is already taken",
            "The payload type '{0}' generated for '{1}' would collide with {2}; name it with [LogEvent(..., PayloadType = \"{3}\")] or rename the other type",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor PayloadTypeShadows = Create(
            "INST017",
            "The generated payload type hides a type of the same name",
            "The payload type '{0}' generated in namespace '{1}' has the same name as '{2}'; code in '{1}' that names '{0}' would bind to the payload instead. Name it with [LogEvent(..., PayloadType = \"{3}\")].",
            DiagnosticSeverity.Warning);

        public static readonly DiagnosticDescriptor InvalidPayloadTypeName = Create(
            "INST018",
            "PayloadType is not a valid type name",
            "PayloadType '{0}' on '{1}' is not a valid C# identifier; give a simple type name such as \"CellRun\" (no namespace, no generic arguments)",
            DiagnosticSeverity.Error);

        public static readonly DiagnosticDescriptor PublicHookNotRecordedEverywhere = Create(
            "INST019",
            "Calls from assemblies without the Instrumentation package are not recorded",
            "'{0}' is public: its calls are recorded in this assembly and in assemblies that reference the Instrumentation package; calls from assemblies that do not reference it are not recorded",
            DiagnosticSeverity.Info);

        private static DiagnosticDescriptor Create(string id, string title, string message, DiagnosticSeverity severity) =>
            new(id, title, message, Category, severity, isEnabledByDefault: true, helpLinkUri: HelpBase + id.ToLowerInvariant());
    }
}
