using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// Hooks across projects. A project built with the generator lists its public hooked methods in assembly attributes
    /// (<c>[assembly: AssemblyMetadata("Instrumentation.Hook", "...")]</c>, written by the payload emitter); a project
    /// that references it reads that list from metadata, so calls of those methods are hooked there too. Reading the list
    /// is the cheap pre-filter: only assemblies that reference the runtime are looked at, and only listed methods are
    /// bound.
    /// </summary>
    internal static class ReferencedEvents
    {
        /// <summary>The <c>AssemblyMetadataAttribute</c> key of one listed method.</summary>
        public const string MetadataKey = "Instrumentation.Hook";

        private const string RuntimeAssemblyName = "Instrumentation.Runtime";

        /// <summary>
        /// The models read from each referenced assembly symbol. The compiler reuses a referenced assembly's symbol for
        /// every compilation that has the same references (each keystroke makes a new compilation, not new reference
        /// symbols), and everything a model holds comes from that symbol's own graph: after the first read, an edit
        /// costs one table lookup per reference instead of walking every assembly's references and attributes. Weak
        /// keys: an assembly symbol dropped by the compiler (references changed) drops its entry.
        /// </summary>
        private static readonly ConditionalWeakTable<IAssemblySymbol, AssemblyHooks> ByAssembly = new();

        /// <summary>The listed value: documentation id, type metadata name, method name and payload metadata name.</summary>
        public static string Describe(EventModel model) =>
            string.Join("|", model.MethodKey, model.ContainingTypeMetadataName, model.MethodName.TrimStart('@'), model.Namespace is null ? model.PayloadTypeName : model.Namespace + "." + model.PayloadTypeName);

        /// <summary>The hooked methods of every referenced assembly, as models of hooks this compilation can emit.</summary>
        public static EquatableArray<EventModel> Read(Compilation compilation, CancellationToken cancellationToken)
        {
            List<EventModel>? models = null;
            foreach (IAssemblySymbol assembly in compilation.SourceModule.ReferencedAssemblySymbols)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!ByAssembly.TryGetValue(assembly, out AssemblyHooks? hooks))
                {
                    // Read outside the table's lock; a concurrent reader of the same symbol computes an equal list.
                    hooks = new AssemblyHooks(ReadAssembly(assembly, cancellationToken));
                    hooks = ByAssembly.GetValue(assembly, _ => hooks);
                }

                if (hooks.Models.Count > 0)
                {
                    (models ??= new List<EventModel>()).AddRange(hooks.Models);
                }
            }

            return models is null
                ? EquatableArray<EventModel>.Empty
                : new EquatableArray<EventModel>(models.OrderBy(m => m.MethodKey, StringComparer.Ordinal));
        }

        private static EquatableArray<EventModel> ReadAssembly(IAssemblySymbol assembly, CancellationToken cancellationToken)
        {
            if (!ReferencesRuntime(assembly))
            {
                return EquatableArray<EventModel>.Empty;
            }

            List<EventModel>? models = null;
            foreach (AttributeData attribute in assembly.GetAttributes())
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (attribute.AttributeClass is { Name: "AssemblyMetadataAttribute" }
                    && attribute.ConstructorArguments.Length == 2
                    && attribute.ConstructorArguments[0].Value is MetadataKey
                    && attribute.ConstructorArguments[1].Value is string value
                    && Model(assembly, value, cancellationToken) is { } model)
                {
                    (models ??= new List<EventModel>()).Add(model);
                }
            }

            return models is null ? EquatableArray<EventModel>.Empty : new EquatableArray<EventModel>(models);
        }

        private static bool ReferencesRuntime(IAssemblySymbol assembly)
        {
            foreach (IModuleSymbol module in assembly.Modules)
            {
                foreach (AssemblyIdentity reference in module.ReferencedAssemblies)
                {
                    if (reference.Name == RuntimeAssemblyName)
                    {
                        return true;
                    }
                }
            }

            return false;
        }

        private static EventModel? Model(IAssemblySymbol assembly, string value, CancellationToken cancellationToken)
        {
            string[] parts = value.Split('|');
            if (parts.Length != 4 || assembly.GetTypeByMetadataName(parts[1]) is not { } type)
            {
                return null;
            }

            IMethodSymbol? method = type.GetMembers(parts[2]).OfType<IMethodSymbol>().FirstOrDefault(m => EventParser.MethodKey(m) == parts[0]);
            if (method is null
                || !EventParser.IsPublic(method)
                || Generics.IsGeneric(method)
                || method.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == EventParser.LogEventAttributeName) is not { } attribute)
            {
                return null;
            }

            int lastDot = parts[3].LastIndexOf('.');
            string? payloadNamespace = lastDot < 0 ? null : parts[3].Substring(0, lastDot);
            string payloadName = lastDot < 0 ? parts[3] : parts[3].Substring(lastDot + 1);
            int priority = attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is int p ? p : 1;
            string eventName = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Name").Value.Value as string ?? Naming.ToSnakeCase(method.Name);

            // The same parameter rules as for a method of this project; diagnostics were the declaring project's to report.
            var ignored = new List<DiagnosticInfo>();
            var usedJsonNames = new Dictionary<string, string>(StringComparer.Ordinal);
            var usedPropertyNames = new HashSet<string>(StringComparer.Ordinal) { payloadName };
            var parameters = new List<ParameterModel>();
            foreach (IParameterSymbol parameter in method.Parameters)
            {
                if (ParameterParser.Parse(method, parameter, EventForm.Hook, method.Name, ignored, usedJsonNames, usedPropertyNames, cancellationToken) is not { } model)
                {
                    return null;
                }

                parameters.Add(model);
            }

            string methodName = Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(method.Name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None ? "@" + method.Name : method.Name;
            return new EventModel(
                MethodKey: EventParser.MethodKey(method),
                Form: EventForm.Hook,
                EventName: eventName,
                Priority: priority,
                Namespace: payloadNamespace,
                PayloadTypeName: payloadName,
                PayloadIsPublic: true,
                MethodDisplayName: method.ContainingType.ToDisplayString() + "." + method.Name,
                MethodName: methodName,
                MethodModifiers: string.Empty,
                ReturnTypeDisplay: method.ReturnType.ToDisplayString(TypeClassifier.FullyQualified),
                ReturnShape: EventParser.ReturnShapeOf(method.ReturnType),
                IsStatic: method.IsStatic,
                IsExtension: method.IsExtensionMethod,
                ContainingTypeDisplay: method.ContainingType.ToDisplayString(TypeClassifier.FullyQualifiedWithoutNullable),
                ContainingTypeIsValueType: method.ContainingType.IsValueType,
                ContainingTypes: EquatableArray<ContainingTypeModel>.Empty,
                Parameters: new EquatableArray<ParameterModel>(parameters))
            {
                ReturnRefKind = method.ReturnsByRefReadonly ? "ref readonly " : method.ReturnsByRef ? "ref " : string.Empty,
                ReceiverRefKind = !method.ContainingType.IsValueType ? string.Empty
                    : method.IsReadOnly || method.ContainingType.IsReadOnly ? "in " : "ref ",
                IsUnsafe = ShapeRules.NeedsUnsafe(method),
                HookAttributes = ShapeRules.HookAttributes(method),
                ReturnAttributes = ShapeRules.NullabilityAttributes(method.GetReturnTypeAttributes(), "return: "),
                ContainingTypeMetadataName = parts[1],
                IsReferenced = true,
            };
        }

        /// <summary>The hooked methods one referenced assembly lists (a class: the weak table's value).</summary>
        private sealed class AssemblyHooks(EquatableArray<EventModel> models)
        {
            public EquatableArray<EventModel> Models { get; } = models;
        }
    }
}
