using Instrumentation.Generator.Support;

namespace Instrumentation.Generator.Model
{
    /// <summary>How the generator turns a <c>[LogEvent]</c> method into code.</summary>
    internal enum EventForm
    {
        /// <summary>A partial method without a body: the generator writes the body.</summary>
        PartialMethod,

        /// <summary>An ordinary method with a body: the generator intercepts its call sites.</summary>
        Hook,
    }

    /// <summary>What a hooked method returns, which decides how its duration is measured.</summary>
    internal enum ReturnShape
    {
        Void,
        Value,
        Task,
        TaskOfT,
        ValueTask,
        ValueTaskOfT,
    }

    /// <summary>
    /// Everything the emitters need to know about one <c>[LogEvent]</c> method: plain strings and values only
    /// (no symbols, syntax or compilation), so equal inputs give equal models and the pipeline caches them.
    /// </summary>
    internal sealed record EventModel(
        string MethodKey,
        EventForm Form,
        string EventName,
        int Priority,
        string? Namespace,
        string PayloadTypeName,
        bool PayloadIsPublic,
        string MethodDisplayName,
        string MethodName,
        string MethodModifiers,
        string ReturnTypeDisplay,
        ReturnShape ReturnShape,
        bool IsStatic,
        bool IsExtension,
        string ContainingTypeDisplay,
        bool ContainingTypeIsValueType,
        EquatableArray<ContainingTypeModel> ContainingTypes,
        EquatableArray<ParameterModel> Parameters)
    {
        /// <summary><c>ref </c> or <c>ref readonly </c> for methods that return by reference, else empty.</summary>
        public string ReturnRefKind { get; init; } = string.Empty;

        /// <summary>How a hook receives a struct receiver: <c>ref </c>, or <c>ref readonly </c> for readonly members and readonly structs.</summary>
        public string ReceiverRefKind { get; init; } = string.Empty;

        /// <summary>For a generic method or a method of a generic type: the hook's type parameter list (<c>&lt;T, U&gt;</c>: the types' first, then the method's).</summary>
        public string TypeParameters { get; init; } = string.Empty;

        /// <summary>The method's own type arguments as the hook passes them on (<c>&lt;U&gt;</c>), or empty.</summary>
        public string MethodTypeArguments { get; init; } = string.Empty;

        /// <summary>The hook's <c>where</c> clauses, repeating the constraints of every type parameter.</summary>
        public string Constraints { get; init; } = string.Empty;

        /// <summary>Nullability attributes of the return value (<c>[return: MaybeNull]</c>...), as C#.</summary>
        public string ReturnAttributes { get; init; } = string.Empty;

        /// <summary>Whether the signature has pointer or function-pointer types (the hook is then <c>unsafe</c>).</summary>
        public bool IsUnsafe { get; init; }

        /// <summary>Attributes the hook repeats from the method and its types (<c>[Obsolete]</c>, <c>[RequiresUnreferencedCode]</c>...), as C#.</summary>
        public EquatableArray<string> HookAttributes { get; init; } = EquatableArray<string>.Empty;

        /// <summary>The metadata name of the method's type (<c>Ns.Outer+Inner</c>), how other assemblies find it.</summary>
        public string ContainingTypeMetadataName { get; init; } = string.Empty;

        /// <summary>Whether the method is declared in a referenced assembly (its payload type is that assembly's).</summary>
        public bool IsReferenced { get; init; }

        /// <summary>Whether hooks in other assemblies may rent this payload (a public method of public types with a public payload).</summary>
        public bool IsHookableFromOtherAssemblies { get; init; }

        public string PayloadFullName => Namespace is null ? "global::" + PayloadTypeName : "global::" + Namespace + "." + PayloadTypeName;
    }

    /// <summary>One type around the method, outermost first, as it must be re-declared for a partial body.</summary>
    internal sealed record ContainingTypeModel(string Keyword, string Name);
}
