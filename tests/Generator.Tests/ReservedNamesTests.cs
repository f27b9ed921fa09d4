using System.Reflection;
using Instrumentation.Generator.Parsing;

namespace Instrumentation.Generator.Tests;

/// <summary>
/// The generator keeps fixed lists of the payload base types' member names (so that no property it generates hides
/// one, CS0108) instead of looking them up per event; this fails when the runtime gains a member the lists miss.
/// </summary>
public class ReservedNamesTests
{
    [Theory]
    [InlineData(typeof(LogEventPayload), false)]
    [InlineData(typeof(MethodCallPayload), true)]
    public void Every_visible_member_of_the_payload_base_types_is_reserved(Type baseType, bool isHook)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
        IEnumerable<string> visible = baseType.GetMembers(all)
            .Where(m => m switch
            {
                MethodBase method => (method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly) && !method.IsSpecialName && method is not ConstructorInfo,
                PropertyInfo property => property.GetAccessors(nonPublic: true).Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly),
                FieldInfo field => field.IsPublic || field.IsFamily || field.IsFamilyOrAssembly,
                EventInfo => true,
                _ => false,
            })
            .Select(m => m.Name)
            .Distinct();

        foreach (string name in visible)
        {
            Assert.True(
                EventParser.ReservedMemberNames.Contains(name) || (isHook && EventParser.ReservedHookMemberNames.Contains(name)),
                $"'{name}' of {baseType.Name} is not in the generator's reserved names");
        }
    }
}
