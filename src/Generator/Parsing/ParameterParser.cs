using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// Turns one parameter of a <c>[LogEvent]</c> method into a <see cref="ParameterModel"/> (its JSON name, payload property
    /// and value writer), or reports why it cannot be written. Used for methods of this project (<see cref="EventParser"/>)
    /// and for hooked methods read from references (<see cref="ReferencedEvents"/>), so both follow the same rules.
    /// </summary>
    internal static class ParameterParser
    {
        internal static ParameterModel? Parse(
            IMethodSymbol method,
            IParameterSymbol parameter,
            EventForm form,
            string display,
            List<DiagnosticInfo> diagnostics,
            Dictionary<string, string> usedJsonNames,
            HashSet<string> usedPropertyNames,
            CancellationToken cancellationToken)
        {
            LocationInfo? parameterLocation = LocationInfo.From(parameter.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken));
            bool isThis = method.IsExtensionMethod && parameter.Ordinal == 0;
            string refKind = parameter.RefKind switch
            {
                RefKind.Ref => "ref ",
                RefKind.Out => "out ",
                RefKind.In => "in ",
                RefKind.RefReadOnlyParameter => "ref readonly ",
                _ => string.Empty,
            };
            if (form == EventForm.PartialMethod && (parameter.RefKind is RefKind.Ref or RefKind.Out || parameter.IsParams))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedParameterModifier, parameterLocation, parameter.Name, display, parameter.IsParams ? "params" : refKind.Trim()));
                return null;
            }

            // 'out' parameters are scoped implicitly; any other scoped parameter was written so and must be repeated (CS8988).
            string scoped = parameter.ScopedKind != ScopedKind.None && parameter.RefKind != RefKind.Out ? "scoped " : string.Empty;
            string declarationPrefix = (isThis ? "this " : string.Empty) + (parameter.IsParams ? "params " : string.Empty) + scoped + refKind;
            string attributes = ShapeRules.NullabilityAttributes(parameter.GetAttributes());
            string argumentPrefix = parameter.RefKind switch
            {
                RefKind.Ref => "ref ",
                RefKind.Out => "out ",
                RefKind.In or RefKind.RefReadOnlyParameter => "in ",
                _ => string.Empty,
            };
            string identifier = SyntaxFacts.GetKeywordKind(parameter.Name) != SyntaxKind.None
                ? "@" + parameter.Name
                : parameter.Name;
            string typeDisplay = parameter.Type.ToDisplayString(TypeClassifier.FullyQualified);

            bool notLogged = parameter.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == EventParser.NotLoggedAttributeName)
                || parameter.RefKind == RefKind.Out;
            TypeClassifier.Classification classification = TypeClassifier.Classify(parameter.Type);
            if ((isThis || IsCancellationToken(parameter.Type)) && classification.Kind == ValueKind.Unsupported)
            {
                // A cancellation token is plumbing, not data: left out without a warning, like an extension method's receiver.
                // The receiver of an extension method is like an instance method's 'this': not data, not a warning.
                notLogged = true;
            }
            else if (!notLogged && classification.Kind == ValueKind.Unsupported)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedParameterType, parameterLocation, parameter.Name, parameter.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));
                notLogged = true;
            }

            if (notLogged)
            {
                return new ParameterModel(identifier, typeDisplay, declarationPrefix, argumentPrefix, false, string.Empty, string.Empty, ValueKind.Unsupported, string.Empty, false, false, false, EquatableArray<EnumMemberModel>.Empty)
                {
                    Attributes = attributes,
                };
            }

            string jsonName = Naming.ToSnakeCase(parameter.Name) + (classification.Kind == ValueKind.TimeSpan ? "_ms" : string.Empty);
            if (form == EventForm.Hook && (jsonName == "duration_ms" || jsonName == "error"))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DataNameCollision, parameterLocation, parameter.Name, jsonName, "the hook writes itself (the call's " + (jsonName == "error" ? "exception" : "duration") + ")"));
            }
            else if (usedJsonNames.TryGetValue(jsonName, out string? other))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DataNameCollision, parameterLocation, parameter.Name, jsonName, "is also the name of parameter '" + other + "'"));
            }
            else
            {
                usedJsonNames.Add(jsonName, parameter.Name);
            }

            string propertyName = Naming.Capitalize(parameter.Name);
            while (EventParser.ReservedMemberNames.Contains(propertyName)
                || (form == EventForm.Hook && EventParser.ReservedHookMemberNames.Contains(propertyName))
                || !usedPropertyNames.Add(propertyName))
            {
                propertyName += "Value";
            }

            bool enumUnsigned = false;
            EquatableArray<EnumMemberModel> enumMembers = classification.Kind == ValueKind.Enum
                ? TypeClassifier.EnumMembers(classification.Element, out enumUnsigned)
                : EquatableArray<EnumMemberModel>.Empty;
            return new ParameterModel(
                identifier,
                typeDisplay,
                declarationPrefix,
                argumentPrefix,
                true,
                jsonName,
                propertyName,
                classification.Kind,
                classification.Element.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(TypeClassifier.FullyQualifiedWithoutNullable),
                classification.IsNullable,
                classification.IsCollection,
                enumUnsigned,
                enumMembers)
            {
                Attributes = attributes,
            };
        }

        private static bool IsCancellationToken(ITypeSymbol type) =>
            type is INamedTypeSymbol { Name: "CancellationToken", ContainingNamespace: { Name: "Threading", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } };
    }
}
