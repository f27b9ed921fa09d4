using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// Checks generated payload type names against the types that already exist: a payload that would collide with one
    /// (CS0101, CS0260) is not emitted and gets INST016; one that would hide a same-named type of another namespace
    /// gets INST017.
    /// </summary>
    internal static class PayloadNames
    {
        /// <summary>The payload full names (<see cref="EventModel.PayloadFullName"/>, sorted) that name an existing type.</summary>
        public static EquatableArray<string> Conflicting(ImmutableArray<EventModel> models, Compilation compilation, CancellationToken cancellationToken)
        {
            List<string>? conflicting = null;
            foreach (EventModel model in models)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (ExistingType(model, compilation) is not null)
                {
                    (conflicting ??= new List<string>()).Add(model.PayloadFullName);
                }
            }

            return conflicting is null
                ? EquatableArray<string>.Empty
                : new EquatableArray<string>(conflicting.OrderBy(n => n, StringComparer.Ordinal));
        }

        public static bool Contains(EquatableArray<string> sorted, string name)
        {
            foreach (string item in sorted)
            {
                if (string.Equals(item, name, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>INST016 or INST017 for <paramref name="model"/>'s payload type, or null.</summary>
        public static DiagnosticInfo? Conflict(EventModel model, LocationInfo? location, Compilation compilation, CancellationToken cancellationToken)
        {
            string suggestion = Naming.ToPascalCase(model.MethodName.TrimStart('@')) + "Call";
            if (ExistingType(model, compilation) is { } existing)
            {
                string what = SymbolEqualityComparer.Default.Equals(existing.ContainingAssembly, compilation.Assembly)
                    ? "the type '" + existing.ToDisplayString() + "' declared in this project"
                    : "the type '" + existing.ToDisplayString() + "' from '" + existing.ContainingAssembly.Name + "'";
                return DiagnosticInfo.Create(DiagnosticDescriptors.PayloadTypeCollision, location, model.PayloadTypeName, model.MethodDisplayName, what, suggestion);
            }

            // TypeNames is the source assembly's set of declared type names, kept by the compiler: most payload names are
            // not in it, and those skip the symbol search.
            if (!compilation.Assembly.TypeNames.Contains(model.PayloadTypeName))
            {
                return null;
            }

            foreach (ISymbol symbol in compilation.GetSymbolsWithName(model.PayloadTypeName, SymbolFilter.Type, cancellationToken))
            {
                if (symbol is INamedTypeSymbol other && other.ContainingType is null && other.Arity == 0)
                {
                    return DiagnosticInfo.Create(
                        DiagnosticDescriptors.PayloadTypeShadows,
                        location,
                        model.PayloadTypeName,
                        model.Namespace ?? "<global namespace>",
                        other.ToDisplayString(),
                        suggestion);
                }
            }

            return null;
        }

        /// <summary>
        /// A type of the compilation, or one of a reference this project can see, with the payload's full name, of any
        /// arity. An internal type of a reference (without InternalsVisibleTo) is invisible here and collides with nothing.
        /// </summary>
        /// <remarks>
        /// Walks the merged namespace (whose members Roslyn caches per compilation) rather than calling
        /// <c>GetTypeByMetadataName</c>, which searches every reference again for each name: this runs for every event
        /// after every edit.
        /// </remarks>
        private static INamedTypeSymbol? ExistingType(EventModel model, Compilation compilation)
        {
            INamespaceSymbol? current = compilation.GlobalNamespace;
            if (model.Namespace is not null)
            {
                foreach (string part in model.Namespace.Split('.'))
                {
                    current = current.GetMembers(part).OfType<INamespaceSymbol>().FirstOrDefault();
                    if (current is null)
                    {
                        return null;
                    }
                }
            }

            foreach (INamedTypeSymbol type in current.GetTypeMembers(model.PayloadTypeName))
            {
                if (SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, compilation.Assembly)
                    || compilation.IsSymbolAccessibleWithin(type, compilation.Assembly))
                {
                    return type;
                }
            }

            return null;
        }
    }
}
