using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// Type parameters of a hooked generic method or of a method of a generic type. An interceptor of such a call is
    /// generic with the same total arity (the containing types' type parameters first, outermost first, then the
    /// method's); the compiler fills them in from the call's type arguments.
    /// </summary>
    internal static class Generics
    {
        public static bool IsGeneric(IMethodSymbol method)
        {
            if (method.IsGenericMethod)
            {
                return true;
            }

            for (INamedTypeSymbol? type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                if (type.IsGenericType)
                {
                    return true;
                }
            }

            return false;
        }

        public static IEnumerable<ITypeParameterSymbol> AllTypeParameters(IMethodSymbol method)
        {
            var types = new List<INamedTypeSymbol>();
            for (INamedTypeSymbol? type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                types.Add(type);
            }

            types.Reverse();
            return types.SelectMany(t => t.TypeParameters).Concat(method.TypeParameters);
        }

        /// <summary><c>&lt;T, U&gt;</c>, or empty when nothing is generic.</summary>
        public static string TypeParameterList(IMethodSymbol method)
        {
            if (!IsGeneric(method))
            {
                return string.Empty;
            }

            List<string> names = AllTypeParameters(method).Select(t => t.Name).ToList();
            return names.Count == 0 ? string.Empty : "<" + string.Join(", ", names) + ">";
        }

        /// <summary>The <c>where</c> clauses that repeat every type parameter's constraints, each preceded by a space.</summary>
        public static string Constraints(IMethodSymbol method)
        {
            if (!IsGeneric(method))
            {
                return string.Empty;
            }

            var clauses = new List<string>();
            foreach (ITypeParameterSymbol parameter in AllTypeParameters(method))
            {
                var parts = new List<string>();
                if (parameter.HasReferenceTypeConstraint)
                {
                    parts.Add(parameter.ReferenceTypeConstraintNullableAnnotation == NullableAnnotation.Annotated ? "class?" : "class");
                }
                else if (parameter.HasUnmanagedTypeConstraint)
                {
                    parts.Add("unmanaged");
                }
                else if (parameter.HasValueTypeConstraint)
                {
                    parts.Add("struct");
                }
                else if (parameter.HasNotNullConstraint)
                {
                    parts.Add("notnull");
                }

                parts.AddRange(parameter.ConstraintTypes.Select(t => t.ToDisplayString(TypeClassifier.FullyQualified)));
                if (parameter.HasConstructorConstraint && !parameter.HasValueTypeConstraint)
                {
                    parts.Add("new()");
                }

                if (parameter.AllowsRefLikeType)
                {
                    parts.Add("allows ref struct");
                }

                if (parts.Count > 0)
                {
                    clauses.Add(" where " + parameter.Name + " : " + string.Join(", ", parts));
                }
            }

            return string.Concat(clauses);
        }
    }
}
