using System.Collections.Generic;
using System.Linq;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>Decides how (and whether) a parameter type is written to an event's <c>data</c>.</summary>
    internal static class TypeClassifier
    {
        internal static readonly SymbolDisplayFormat FullyQualified = SymbolDisplayFormat.FullyQualifiedFormat
            .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

        internal static readonly SymbolDisplayFormat FullyQualifiedWithoutNullable = SymbolDisplayFormat.FullyQualifiedFormat;

        /// <summary>The classification of one type.</summary>
        internal readonly struct Classification
        {
            public Classification(ValueKind kind, ITypeSymbol element, bool isNullable, bool isCollection)
            {
                Kind = kind;
                Element = element;
                IsNullable = isNullable;
                IsCollection = isCollection;
            }

            public ValueKind Kind { get; }

            /// <summary>The type of one value, without nullable wrapping.</summary>
            public ITypeSymbol Element { get; }

            public bool IsNullable { get; }

            public bool IsCollection { get; }
        }

        public static Classification Classify(ITypeSymbol type)
        {
            Classification single = ClassifySingle(type);
            if (single.Kind != ValueKind.Unsupported)
            {
                return single;
            }

            ITypeSymbol? element = null;
            if (type is IArrayTypeSymbol array && array.IsSZArray)
            {
                element = array.ElementType;
            }
            else if (type is INamedTypeSymbol named)
            {
                element = EnumerableElement(named);
            }

            if (element is not null)
            {
                Classification item = ClassifySingle(element);
                if (item.Kind != ValueKind.Unsupported)
                {
                    return new Classification(item.Kind, item.Element, item.IsNullable, isCollection: true);
                }
            }

            return new Classification(ValueKind.Unsupported, type, false, false);
        }

        private static Classification ClassifySingle(ITypeSymbol type)
        {
            if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
            {
                ITypeSymbol inner = nullable.TypeArguments[0];
                ValueKind innerKind = ScalarKind(inner);
                return innerKind == ValueKind.Unsupported
                    ? new Classification(ValueKind.Unsupported, type, false, false)
                    : new Classification(innerKind, inner, isNullable: true, isCollection: false);
            }

            ValueKind kind = ScalarKind(type);
            return new Classification(kind, type, isNullable: !type.IsValueType, isCollection: false);
        }

        private static ValueKind ScalarKind(ITypeSymbol type)
        {
            switch (type.SpecialType)
            {
                case SpecialType.System_String: return ValueKind.String;
                case SpecialType.System_Boolean: return ValueKind.Boolean;
                case SpecialType.System_SByte:
                case SpecialType.System_Byte:
                case SpecialType.System_Int16:
                case SpecialType.System_UInt16:
                case SpecialType.System_Int32:
                case SpecialType.System_UInt32:
                case SpecialType.System_Int64:
                case SpecialType.System_UInt64: return ValueKind.Integer;
                case SpecialType.System_IntPtr: return ValueKind.NativeInteger;
                case SpecialType.System_UIntPtr: return ValueKind.NativeUnsignedInteger;
                case SpecialType.System_Single: return ValueKind.Single;
                case SpecialType.System_Double: return ValueKind.Double;
                case SpecialType.System_Decimal: return ValueKind.Decimal;
                case SpecialType.System_Char: return ValueKind.Char;
                case SpecialType.System_DateTime: return ValueKind.DateTime;
            }

            if (type.TypeKind == TypeKind.Enum)
            {
                return ValueKind.Enum;
            }

            if (type is INamedTypeSymbol named && named.ContainingNamespace is { Name: "System", ContainingNamespace.IsGlobalNamespace: true })
            {
                switch (named.MetadataName)
                {
                    case "Guid": return ValueKind.Guid;
                    case "DateTimeOffset": return ValueKind.DateTimeOffset;
                    case "TimeSpan": return ValueKind.TimeSpan;
                    case "Uri": return ValueKind.Uri;
                }
            }

            return ValueKind.Unsupported;
        }

        /// <summary>The <c>T</c> of <c>IEnumerable&lt;T&gt;</c> that the type is or implements, when exactly one.</summary>
        private static ITypeSymbol? EnumerableElement(INamedTypeSymbol type)
        {
            if (type.OriginalDefinition.SpecialType == SpecialType.System_Collections_Generic_IEnumerable_T)
            {
                return type.TypeArguments[0];
            }

            List<INamedTypeSymbol> candidates = type.AllInterfaces
                .Where(i => i.OriginalDefinition.SpecialType == SpecialType.System_Collections_Generic_IEnumerable_T)
                .ToList();
            return candidates.Count == 1 ? candidates[0].TypeArguments[0] : null;
        }

        /// <summary>Members of an enum, one per distinct value (aliases would be duplicate switch cases).</summary>
        public static EquatableArray<EnumMemberModel> EnumMembers(ITypeSymbol enumType, out bool isUnsigned)
        {
            var named = (INamedTypeSymbol)enumType;
            SpecialType underlying = named.EnumUnderlyingType?.SpecialType ?? SpecialType.System_Int32;
            isUnsigned = underlying is SpecialType.System_Byte or SpecialType.System_UInt16 or SpecialType.System_UInt32 or SpecialType.System_UInt64;

            var seen = new HashSet<object>();
            var members = new List<EnumMemberModel>();
            foreach (IFieldSymbol field in named.GetMembers().OfType<IFieldSymbol>())
            {
                if (!field.HasConstantValue || field.ConstantValue is null || !seen.Add(field.ConstantValue))
                {
                    continue;
                }

                string identifier = Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(field.Name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None
                    ? "@" + field.Name
                    : field.Name;
                members.Add(new EnumMemberModel(identifier, field.Name));
            }

            return new EquatableArray<EnumMemberModel>(members);
        }

        /// <summary>Whether code in any assembly can name the type (decides whether the payload can be public).</summary>
        public static bool IsPubliclyAccessible(ITypeSymbol type)
        {
            switch (type)
            {
                case IArrayTypeSymbol array:
                    return IsPubliclyAccessible(array.ElementType);
                case INamedTypeSymbol named:
                    for (INamedTypeSymbol? current = named; current is not null; current = current.ContainingType)
                    {
                        if (current.DeclaredAccessibility != Accessibility.Public)
                        {
                            return false;
                        }
                    }

                    return named.TypeArguments.All(IsPubliclyAccessible);
                default:
                    return true;
            }
        }
    }
}
