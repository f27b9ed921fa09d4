using System.Text;

namespace Instrumentation.Generator.Support
{
    /// <summary>Turns C# names into wire names (snake_case) and type names (PascalCase).</summary>
    internal static class Naming
    {
        /// <summary>
        /// <c>notebookId</c> → <c>notebook_id</c>, <c>ExecuteCellAsync</c> → <c>execute_cell_async</c>,
        /// <c>URLPath</c> → <c>url_path</c>, <c>cellID</c> → <c>cell_id</c>.
        /// </summary>
        public static string ToSnakeCase(string name)
        {
            var builder = new StringBuilder(name.Length + 8);
            for (int i = 0; i < name.Length; i++)
            {
                char c = name[i];
                if (char.IsUpper(c))
                {
                    bool afterWordChar = i > 0 && name[i - 1] != '_' && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                    bool endsAcronym = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                    if (afterWordChar || endsAcronym)
                    {
                        builder.Append('_');
                    }

                    builder.Append(char.ToLowerInvariant(c));
                }
                else
                {
                    builder.Append(c);
                }
            }

            return builder.ToString();
        }

        /// <summary>
        /// A C# type name from an event name: <c>cell</c> → <c>Cell</c>, <c>notebook-visit</c> → <c>NotebookVisit</c>,
        /// <c>execute_cell_async</c> → <c>ExecuteCellAsync</c>. Characters that cannot stand in an identifier split words.
        /// </summary>
        public static string ToPascalCase(string name)
        {
            var builder = new StringBuilder(name.Length);
            bool upperNext = true;
            foreach (char c in name)
            {
                if (!char.IsLetterOrDigit(c))
                {
                    upperNext = true;
                    continue;
                }

                builder.Append(upperNext ? char.ToUpperInvariant(c) : c);
                upperNext = false;
            }

            if (builder.Length == 0 || char.IsDigit(builder[0]))
            {
                builder.Insert(0, '_');
            }

            return builder.ToString();
        }

        /// <summary>The name with its first letter in upper case (a parameter name as a property name).</summary>
        public static string Capitalize(string name) =>
            name.Length == 0 || char.IsUpper(name[0]) ? name : char.ToUpperInvariant(name[0]) + name.Substring(1);
    }
}
