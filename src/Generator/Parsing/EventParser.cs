using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>Turns a <c>[LogEvent]</c> method (syntax and symbol) into an <see cref="EventModel"/> and diagnostics.</summary>
    internal static class EventParser
    {
        public const string LogEventAttributeName = "Instrumentation.LogEventAttribute";
        public const string NotLoggedAttributeName = "Instrumentation.NotLoggedAttribute";

        /// <summary>Names the base payload types already use; a parameter property with one of them gets a suffix.</summary>
        /// <remarks>A test checks by reflection that these cover every public and protected member of the runtime's payload types.</remarks>
        internal static readonly HashSet<string> ReservedMemberNames = new(StringComparer.Ordinal)
        {
            "EventType", "Priority", "EventId", "Timestamp", "TraceId", "SpanId", "IsRecorded", "WriteTo", "WriteData",
            "ToJson", "ToString", "Equals", "GetHashCode", "GetType", "MemberwiseClone", "Finalize", "ContextFields",
            "ReferenceEquals", "__Rent", "__Pool", "__Json",
        };

        /// <summary>Further names that hook payloads (<c>MethodCallPayload</c>) use.</summary>
        internal static readonly HashSet<string> ReservedHookMemberNames = new(StringComparer.Ordinal)
        {
            "Duration", "Error", "WriteArguments",
        };

        public static EventParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            if (context.TargetNode is not MethodDeclarationSyntax syntax
                || context.TargetSymbol is IMethodSymbol { ContainingType.IsExtension: true })
            {
                // Local functions, lambdas, operators, accessors, members of extension blocks: say why no event is recorded.
                string name = context.TargetSymbol?.Name ?? "?";
                LocationInfo? where = LocationInfo.From(context.TargetNode);
                return Guarded(name, where, () =>
                {
                    DiagnosticInfo? diagnostic = ShapeRules.NotAnOrdinaryMethod(context.TargetNode, context.TargetSymbol);
                    return diagnostic is null
                        ? new EventParseResult(null, null, null, name, where, EquatableArray<DiagnosticInfo>.Empty)
                        : Failed(name, where, diagnostic);
                }, cancellationToken);
            }

            var method = (IMethodSymbol)context.TargetSymbol;
            string display = method.ContainingType.Name + "." + method.Name;
            LocationInfo? location = LocationInfo.From(syntax.Identifier);
            return Guarded(
                display,
                location,
                () => ParseCore(method, syntax, context.Attributes, context.SemanticModel.Compilation, display, location, cancellationToken),
                cancellationToken);
        }

        /// <summary>
        /// Runs <paramref name="parse"/>; an unexpected exception becomes INST000 on the method instead of escaping. The
        /// generator must never throw: users would see CS8785 and lose every event, not just this one.
        /// </summary>
        internal static EventParseResult Guarded(string display, LocationInfo? location, Func<EventParseResult> parse, CancellationToken cancellationToken)
        {
            try
            {
                return parse();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception exception)
            {
                return Failed(display, location, DiagnosticInfo.GeneratorFailure(
                    location, "the [LogEvent] method '" + display + "'", "no event code was generated for it", exception));
            }
        }

        private static EventParseResult ParseCore(
            IMethodSymbol method,
            MethodDeclarationSyntax syntax,
            IReadOnlyList<AttributeData> attributes,
            Compilation compilation,
            string display,
            LocationInfo? location,
            CancellationToken cancellationToken)
        {
            var diagnostics = new List<DiagnosticInfo>();
            AttributeData attribute = attributes[0];
            int priority = attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is int value ? value : 1;
            string? explicitName = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Name").Value.Value as string;
            string? explicitPayloadType = attribute.NamedArguments.FirstOrDefault(a => a.Key == "PayloadType").Value.Value as string;
            LocationInfo? attributeLocation = LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken)) ?? location;

            bool isPartial = syntax.Modifiers.Any(SyntaxKind.PartialKeyword);
            bool hasBody = syntax.Body is not null || syntax.ExpressionBody is not null;
            EventForm form;
            if (isPartial && (hasBody || method.PartialImplementationPart is not null))
            {
                return Failed(display, location, DiagnosticInfo.Create(DiagnosticDescriptors.PartialMethodAlreadyImplemented, location, display));
            }
            else if (isPartial)
            {
                form = EventForm.PartialMethod;
            }
            else if (hasBody)
            {
                form = EventForm.Hook;
            }
            else
            {
                return Failed(display, location, DiagnosticInfo.Create(DiagnosticDescriptors.MethodWithoutBody, location, display));
            }

            // A hooked generic method (or method of a generic type) gets a generic hook of the same total arity; its payload
            // is not generic, so parameters whose type uses a type parameter are not logged. A partial method's payload and
            // body cannot be generic.
            if (form == EventForm.PartialMethod && (method.IsGenericMethod || ContainingTypes(method).Any(t => t.IsGenericType)))
            {
                LocationInfo? where = syntax.TypeParameterList is { } list ? LocationInfo.From(list) : location;
                return Failed(display, location, DiagnosticInfo.Create(DiagnosticDescriptors.GenericMethodOrType, where, display));
            }

            if (explicitName is not null && string.IsNullOrWhiteSpace(explicitName))
            {
                return Failed(display, location, DiagnosticInfo.Create(DiagnosticDescriptors.InvalidEventName, attributeLocation, display));
            }

            if (explicitPayloadType is not null && (!SyntaxFacts.IsValidIdentifier(explicitPayloadType) || SyntaxFacts.GetKeywordKind(explicitPayloadType) != SyntaxKind.None))
            {
                return Failed(display, location, DiagnosticInfo.Create(DiagnosticDescriptors.InvalidPayloadTypeName, attributeLocation, explicitPayloadType, display));
            }

            if (ShapeRules.Inexpressible(method, form, display, location) is { } inexpressible)
            {
                return Failed(display, location, inexpressible);
            }

            string eventName = explicitName ?? Naming.ToSnakeCase(method.Name);
            string payloadTypeName = explicitPayloadType ?? Naming.ToPascalCase(eventName) + "Event";

            if (form == EventForm.PartialMethod)
            {
                foreach (TypeDeclarationSyntax type in syntax.Ancestors().OfType<TypeDeclarationSyntax>())
                {
                    if (!type.Modifiers.Any(SyntaxKind.PartialKeyword))
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContainingTypeNotPartial, LocationInfo.From(type.Identifier), type.Identifier.Text, display));
                    }
                }

                if (!method.ReturnsVoid)
                {
                    diagnostics.Add(DiagnosticInfo.Create(
                        DiagnosticDescriptors.PartialMethodMustReturnVoid,
                        LocationInfo.From(syntax.ReturnType),
                        display,
                        method.ReturnType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));
                }
            }
            else if (method.ExplicitInterfaceImplementations.Length > 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(
                    DiagnosticDescriptors.HookedMethodNotAccessible,
                    location,
                    display,
                    "an explicit interface implementation is only called through the interface, and such calls cannot be hooked. Put [LogEvent] on an implicit implementation (a public method with the interface method's name), or on a method that this one calls"));
            }
            else if (!IsAccessibleInAssembly(method))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HookedMethodNotAccessible, location, display, "make it (and the types containing it) internal or public"));
            }

            var parameters = new List<ParameterModel>();
            var usedJsonNames = new Dictionary<string, string>(StringComparer.Ordinal);
            var usedPropertyNames = new HashSet<string>(StringComparer.Ordinal) { payloadTypeName };
            bool payloadIsPublic = true;
            foreach (IParameterSymbol parameter in method.Parameters)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ParameterModel? parameterModel = ParameterParser.Parse(method, parameter, form, display, diagnostics, usedJsonNames, usedPropertyNames, cancellationToken);
                if (parameterModel is not null)
                {
                    parameters.Add(parameterModel);
                    payloadIsPublic &= !parameterModel.IsLogged || TypeClassifier.IsPubliclyAccessible(parameter.Type);
                }
            }

            var diagnosticArray = new EquatableArray<DiagnosticInfo>(diagnostics);
            string payloadKey = (method.ContainingType.ContainingNamespace.IsGlobalNamespace ? string.Empty : method.ContainingType.ContainingNamespace.ToDisplayString() + ".") + payloadTypeName;
            if (diagnostics.Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error))
            {
                return new EventParseResult(null, eventName, payloadKey, display, location, diagnosticArray) { AttributeLocation = attributeLocation };
            }

            var model = new EventModel(
                MethodKey: MethodKey(method),
                Form: form,
                EventName: eventName,
                Priority: priority,
                Namespace: method.ContainingType.ContainingNamespace.IsGlobalNamespace ? null : method.ContainingType.ContainingNamespace.ToDisplayString(),
                PayloadTypeName: payloadTypeName,
                PayloadIsPublic: payloadIsPublic,
                MethodDisplayName: method.ContainingType.ToDisplayString() + "." + method.Name,
                MethodName: syntax.Identifier.Text,
                MethodModifiers: string.Join(" ", syntax.Modifiers.Select(m => m.Text)),
                ReturnTypeDisplay: method.ReturnType.ToDisplayString(TypeClassifier.FullyQualified),
                ReturnShape: ReturnShapeOf(method.ReturnType),
                IsStatic: method.IsStatic,
                IsExtension: method.IsExtensionMethod,
                ContainingTypeDisplay: method.ContainingType.ToDisplayString(TypeClassifier.FullyQualifiedWithoutNullable),
                ContainingTypeIsValueType: method.ContainingType.IsValueType,
                ContainingTypes: new EquatableArray<ContainingTypeModel>(syntax.Ancestors().OfType<TypeDeclarationSyntax>().Reverse().Select(ContainingType)),
                Parameters: new EquatableArray<ParameterModel>(parameters))
            {
                ReturnRefKind = method.ReturnsByRefReadonly ? "ref readonly " : method.ReturnsByRef ? "ref " : string.Empty,
                ReceiverRefKind = !method.ContainingType.IsValueType ? string.Empty
                    : method.IsReadOnly || method.ContainingType.IsReadOnly ? "in " : "ref ",
                IsUnsafe = ShapeRules.NeedsUnsafe(method),
                TypeParameters = Generics.TypeParameterList(method),
                MethodTypeArguments = method.IsGenericMethod ? "<" + string.Join(", ", method.TypeParameters.Select(t => t.Name)) + ">" : string.Empty,
                Constraints = Generics.Constraints(method),
                IsHookableFromOtherAssemblies = form == EventForm.Hook && payloadIsPublic && IsPublic(method) && !Generics.IsGeneric(method),
                ContainingTypeMetadataName = MetadataName(method.ContainingType),
                HookAttributes = form == EventForm.Hook ? ShapeRules.HookAttributes(method) : EquatableArray<string>.Empty,
                ReturnAttributes = form == EventForm.Hook ? ShapeRules.NullabilityAttributes(method.GetReturnTypeAttributes(), "return: ") : string.Empty,
            };
            return new EventParseResult(model, eventName, payloadKey, display, location, diagnosticArray) { AttributeLocation = attributeLocation };
        }

        /// <summary>The key that links call sites to their event: the method's documentation id.</summary>
        public static string MethodKey(IMethodSymbol method) =>
            method.OriginalDefinition.GetDocumentationCommentId() ?? method.OriginalDefinition.ToDisplayString();

        private static EventParseResult Failed(string display, LocationInfo? location, DiagnosticInfo diagnostic) =>
            new(null, null, null, display, location, new EquatableArray<DiagnosticInfo>(new[] { diagnostic }));

        private static IEnumerable<INamedTypeSymbol> ContainingTypes(IMethodSymbol method)
        {
            for (INamedTypeSymbol? type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                yield return type;
            }
        }

        /// <summary>The name <c>GetTypeByMetadataName</c> finds the type by (<c>Ns.Outer+Inner</c>).</summary>
        internal static string MetadataName(INamedTypeSymbol type)
        {
            string name = type.MetadataName;
            for (INamedTypeSymbol? outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
            {
                name = outer.MetadataName + "+" + name;
                type = outer;
            }

            return type.ContainingNamespace.IsGlobalNamespace ? name : type.ContainingNamespace.ToDisplayString() + "." + name;
        }

        internal static bool IsPublic(IMethodSymbol method) =>
            method.DeclaredAccessibility == Accessibility.Public && ContainingTypes(method).All(t => t.DeclaredAccessibility == Accessibility.Public);

        private static bool IsAccessibleInAssembly(IMethodSymbol method)
        {
            static bool Visible(Accessibility accessibility) =>
                accessibility is Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal;

            return Visible(method.DeclaredAccessibility) && ContainingTypes(method).All(t => Visible(t.DeclaredAccessibility));
        }

        internal static ReturnShape ReturnShapeOf(ITypeSymbol type)
        {
            if (type.SpecialType == SpecialType.System_Void)
            {
                return ReturnShape.Void;
            }

            if (type is INamedTypeSymbol named && named.ContainingNamespace?.ToDisplayString() == "System.Threading.Tasks")
            {
                switch (named.MetadataName)
                {
                    case "Task": return ReturnShape.Task;
                    case "Task`1": return ReturnShape.TaskOfT;
                    case "ValueTask": return ReturnShape.ValueTask;
                    case "ValueTask`1": return ReturnShape.ValueTaskOfT;
                }
            }

            return ReturnShape.Value;
        }

        private static ContainingTypeModel ContainingType(TypeDeclarationSyntax type)
        {
            string keyword = type is RecordDeclarationSyntax record && !record.ClassOrStructKeyword.IsKind(SyntaxKind.None)
                ? record.Keyword.Text + " " + record.ClassOrStructKeyword.Text
                : type.Keyword.Text;
            return new ContainingTypeModel(keyword, type.Identifier.Text);
        }
    }
}
