using System.Collections.Generic;
using System.Linq;
using System.Text;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// Decides whether generated code can express a <c>[LogEvent]</c> method (and, if not, says why and how to fix it),
    /// and collects what the generated code must repeat from it: attributes, <c>unsafe</c>, ref kinds.
    /// </summary>
    internal static class ShapeRules
    {
        /// <summary>Attributes a hook repeats so that calling the method from it is neither a warning nor an error.</summary>
        private static readonly HashSet<string> PropagatedAttributes = new()
        {
            "System.ObsoleteAttribute",
            "System.Diagnostics.CodeAnalysis.RequiresUnreferencedCodeAttribute",
            "System.Diagnostics.CodeAnalysis.RequiresDynamicCodeAttribute",
            "System.Diagnostics.CodeAnalysis.RequiresAssemblyFilesAttribute",
            "System.Diagnostics.CodeAnalysis.ExperimentalAttribute",
            "System.Runtime.Versioning.SupportedOSPlatformAttribute",
            "System.Runtime.Versioning.UnsupportedOSPlatformAttribute",
        };

        /// <summary>Nullability attributes a hook's parameters and return repeat, so its signature matches the method's.</summary>
        private static readonly HashSet<string> NullabilityAttributeNames = new()
        {
            "System.Diagnostics.CodeAnalysis.AllowNullAttribute",
            "System.Diagnostics.CodeAnalysis.DisallowNullAttribute",
            "System.Diagnostics.CodeAnalysis.MaybeNullAttribute",
            "System.Diagnostics.CodeAnalysis.NotNullAttribute",
            "System.Diagnostics.CodeAnalysis.MaybeNullWhenAttribute",
            "System.Diagnostics.CodeAnalysis.NotNullWhenAttribute",
            "System.Diagnostics.CodeAnalysis.NotNullIfNotNullAttribute",
        };

        /// <summary>
        /// INST013 for a <c>[LogEvent]</c> on something that is not an ordinary method of a class, struct, record or
        /// interface (the attribute allows every method-like target; the generator handles only these).
        /// </summary>
        public static DiagnosticInfo? NotAnOrdinaryMethod(SyntaxNode node, ISymbol? symbol)
        {
            (string what, string why, string fix) = node switch
            {
                LocalFunctionStatementSyntax local => ("the local function '" + local.Identifier.ValueText + "'", "calls of local functions cannot be intercepted and they have no partial form", "Move it to a method of the type (private methods of a type can be hooked when they are internal or public)."),
                AnonymousFunctionExpressionSyntax => ("a lambda", "calls through a delegate cannot be intercepted", "Call a [LogEvent] method from the lambda instead."),
                OperatorDeclarationSyntax or ConversionOperatorDeclarationSyntax => ("an operator", "operators are not invoked by a call expression that can be intercepted", "Call a [LogEvent] method from the operator's body."),
                AccessorDeclarationSyntax => ("an accessor", "property and event accessors are not invoked by a call expression that can be intercepted", "Call a [LogEvent] method from the accessor's body."),
                ConstructorDeclarationSyntax or DestructorDeclarationSyntax => ("a constructor or finalizer", "object creation cannot be intercepted", "Call a [LogEvent] method from its body."),
                MethodDeclarationSyntax method when symbol is IMethodSymbol { ContainingType.IsExtension: true } => ("'" + method.Identifier.ValueText + "' in an extension block", "members of C# 14 extension blocks are not supported yet", "Declare it as a classic extension method (a static method with a 'this' parameter in a static class)."),
                _ => (string.Empty, string.Empty, string.Empty),
            };

            if (what.Length == 0)
            {
                return null;
            }

            SyntaxNode at = node is MethodDeclarationSyntax m ? m.Identifier.Parent! : node;
            LocationInfo? location = node switch
            {
                MethodDeclarationSyntax declaration => LocationInfo.From(declaration.Identifier),
                LocalFunctionStatementSyntax local => LocationInfo.From(local.Identifier),
                OperatorDeclarationSyntax op => LocationInfo.From(op.OperatorToken),
                ConversionOperatorDeclarationSyntax conversion => LocationInfo.From(conversion.Type),
                AccessorDeclarationSyntax accessor => LocationInfo.From(accessor.Keyword),
                ConstructorDeclarationSyntax constructor => LocationInfo.From(constructor.Identifier),
                _ => LocationInfo.From(at),
            };
            return DiagnosticInfo.Create(DiagnosticDescriptors.NotAnOrdinaryMethod, location, what, why, fix);
        }

        /// <summary>INST014 when the signature has something generated code in another file or type cannot write.</summary>
        public static DiagnosticInfo? Inexpressible(IMethodSymbol method, EventForm form, string display, LocationInfo? location)
        {
            if (method.IsVararg)
            {
                return Create("it takes __arglist, which a hook cannot pass on", "Take a params array or an explicit list of parameters instead.");
            }

            for (INamedTypeSymbol? type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                if (type.IsFileLocal)
                {
                    return Create("it is declared in the file-local type '" + type.Name + "', which generated code (in another file) cannot name", "Make the type internal instead of 'file'.");
                }

                if (type.IsRefLikeType && form == EventForm.Hook && !method.IsStatic)
                {
                    return Create("it is an instance method of the ref struct '" + type.Name + "', whose receiver a hook cannot take", "Make it static with the struct as a 'scoped ref' parameter, or call a [LogEvent] method from it.");
                }
            }

            // A hook names every parameter type and the return type; a payload names the logged parameter types. Both live
            // outside the method's type, so private and protected types (and file-local ones) cannot appear there.
            foreach (IParameterSymbol parameter in method.Parameters)
            {
                if (form == EventForm.Hook || !IsNotLogged(parameter))
                {
                    if (Unnameable(parameter.Type) is { } hidden)
                    {
                        return Create("the type of parameter '" + parameter.Name + "' uses '" + hidden + "', which generated code outside the type cannot name (private, protected or file-local)", form == EventForm.Hook ? "Make that type internal or public." : "Make that type internal or public, or mark the parameter [NotLogged].");
                    }
                }
            }

            if (form == EventForm.Hook && Unnameable(method.ReturnType) is { } hiddenReturn)
            {
                return Create("its return type uses '" + hiddenReturn + "', which generated code outside the type cannot name (private, protected or file-local)", "Make that type internal or public.");
            }

            return null;

            DiagnosticInfo Create(string why, string fix) =>
                DiagnosticInfo.Create(DiagnosticDescriptors.SignatureNotExpressible, location, display, why, fix);
        }

        private static bool IsNotLogged(IParameterSymbol parameter) =>
            parameter.RefKind == RefKind.Out
            || parameter.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == EventParser.NotLoggedAttributeName);

        /// <summary>The first type in <paramref name="type"/> that code outside its declaring type cannot name, or null.</summary>
        private static string? Unnameable(ITypeSymbol type)
        {
            switch (type)
            {
                case IArrayTypeSymbol array:
                    return Unnameable(array.ElementType);
                case IPointerTypeSymbol pointer:
                    return Unnameable(pointer.PointedAtType);
                case IFunctionPointerTypeSymbol function:
                    return function.Signature.Parameters.Select(p => Unnameable(p.Type)).FirstOrDefault(n => n is not null)
                        ?? Unnameable(function.Signature.ReturnType);
                case INamedTypeSymbol named:
                    for (INamedTypeSymbol? current = named; current is not null; current = current.ContainingType)
                    {
                        if (current.IsFileLocal || current.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal)
                        {
                            return named.ToDisplayString();
                        }
                    }

                    return named.TypeArguments.Select(Unnameable).FirstOrDefault(n => n is not null);
                default:
                    return null;
            }
        }

        /// <summary>Whether the signature has a pointer or function pointer (a hook must then be <c>unsafe</c>).</summary>
        public static bool NeedsUnsafe(IMethodSymbol method) =>
            HasPointer(method.ReturnType) || method.Parameters.Any(p => HasPointer(p.Type));

        private static bool HasPointer(ITypeSymbol type) => type switch
        {
            IPointerTypeSymbol or IFunctionPointerTypeSymbol => true,
            IArrayTypeSymbol array => HasPointer(array.ElementType),
            INamedTypeSymbol named => named.TypeArguments.Any(HasPointer),
            _ => false,
        };

        /// <summary>The attributes of the method and of its containing types that the hook repeats.</summary>
        public static EquatableArray<string> HookAttributes(IMethodSymbol method)
        {
            var result = new List<string>();
            var seen = new HashSet<string>();
            AddFrom(method.GetAttributes());
            for (INamedTypeSymbol? type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                AddFrom(type.GetAttributes());
            }

            return new EquatableArray<string>(result);

            void AddFrom(IEnumerable<AttributeData> attributes)
            {
                foreach (AttributeData attribute in attributes)
                {
                    string? name = attribute.AttributeClass?.ToDisplayString();
                    if (name is not null && PropagatedAttributes.Contains(name) && seen.Add(name) && Render(attribute) is { } text)
                    {
                        result.Add(text);
                    }
                }
            }
        }

        /// <summary>The nullability attributes of a parameter (or, with <paramref name="target"/> "return: ", of a return), as C#.</summary>
        public static string NullabilityAttributes(IEnumerable<AttributeData> attributes, string target = "")
        {
            var builder = new StringBuilder();
            foreach (AttributeData attribute in attributes)
            {
                if (attribute.AttributeClass?.ToDisplayString() is { } name && NullabilityAttributeNames.Contains(name) && Render(attribute, target) is { } text)
                {
                    builder.Append(text).Append(' ');
                }
            }

            return builder.ToString();
        }

        /// <summary>An attribute as C#, from its constructor and named arguments; null when an argument cannot be written.</summary>
        private static string? Render(AttributeData attribute, string target = "")
        {
            var arguments = new List<string>();
            foreach (TypedConstant argument in attribute.ConstructorArguments)
            {
                if (Constant(argument) is not { } text)
                {
                    return null;
                }

                arguments.Add(text);
            }

            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
            {
                if (Constant(named.Value) is not { } text)
                {
                    return null;
                }

                arguments.Add(named.Key + " = " + text);
            }

            string type = attribute.AttributeClass!.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
            return "[" + target + type + (arguments.Count == 0 ? string.Empty : "(" + string.Join(", ", arguments) + ")") + "]";
        }

        private static string? Constant(TypedConstant constant)
        {
            if (constant.Kind == TypedConstantKind.Array || constant.IsNull && constant.Kind != TypedConstantKind.Primitive)
            {
                return constant.IsNull ? "null" : null;
            }

            return constant.Value switch
            {
                null => "null",
                string text => SymbolDisplay.FormatLiteral(text, quote: true),
                bool flag => flag ? "true" : "false",
                int number when constant.Kind == TypedConstantKind.Primitive => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => null,
            };
        }
    }
}
