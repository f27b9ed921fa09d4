using Instrumentation.Generator.Support;

namespace Instrumentation.Generator.Model
{
    /// <summary>The JSON shape of a supported parameter type.</summary>
    internal enum ValueKind
    {
        Unsupported,
        String,
        Boolean,
        Integer,
        NativeInteger,
        NativeUnsignedInteger,
        Single,
        Double,
        Decimal,
        Char,
        Guid,
        DateTime,
        DateTimeOffset,
        TimeSpan,
        Uri,
        Enum,
    }

    /// <summary>One parameter of a <c>[LogEvent]</c> method and, when logged, how it is written.</summary>
    /// <param name="Name">The parameter's identifier as written in C# (escaped with <c>@</c> where it is a keyword).</param>
    /// <param name="TypeDisplay">The fully qualified parameter type, with nullable annotations.</param>
    /// <param name="RefKindPrefix">The modifier written before the type (<c>ref </c>, <c>in </c>, <c>out </c>, <c>params </c>, <c>this </c>), or empty.</param>
    /// <param name="ArgumentPrefix">The modifier written before the argument when passing it on (<c>ref </c>, <c>in </c>, <c>out </c>), or empty.</param>
    /// <param name="IsLogged">Whether the parameter goes into the event.</param>
    /// <param name="JsonName">The name in the event's <c>data</c> (snake_case, <c>_ms</c> for TimeSpan).</param>
    /// <param name="PropertyName">The payload property's name.</param>
    /// <param name="Kind">The value's JSON shape.</param>
    /// <param name="ElementTypeDisplay">The fully qualified type of one value (the element type of a collection, the underlying type of a nullable).</param>
    /// <param name="IsNullable">Whether one value can be null (a reference type, or a nullable value type).</param>
    /// <param name="IsCollection">Whether the parameter is an array or sequence of values.</param>
    /// <param name="EnumUnderlyingIsUnsigned">For enums, whether the underlying type is unsigned (decides the numeric fallback).</param>
    /// <param name="EnumMembers">For enums, one member per distinct value: the escaped identifier and the name written on the wire.</param>
    internal sealed record ParameterModel(
        string Name,
        string TypeDisplay,
        string RefKindPrefix,
        string ArgumentPrefix,
        bool IsLogged,
        string JsonName,
        string PropertyName,
        ValueKind Kind,
        string ElementTypeDisplay,
        bool IsNullable,
        bool IsCollection,
        bool EnumUnderlyingIsUnsigned,
        EquatableArray<EnumMemberModel> EnumMembers)
    {
        /// <summary>Attributes repeated on the hook's parameter (nullability attributes such as <c>[NotNullWhen(true)]</c>), as C#.</summary>
        public string Attributes { get; init; } = string.Empty;

        public string PropertyTypeDisplay
        {
            get
            {
                string element = IsNullable ? ElementTypeDisplay + "?" : ElementTypeDisplay;
                return IsCollection
                    ? "global::System.Collections.Generic.IReadOnlyList<" + element + ">?"
                    : element;
            }
        }
    }

    /// <summary>An enum member: the identifier to use in code and the name to write.</summary>
    internal sealed record EnumMemberModel(string Identifier, string Name);
}
