using System;
using System.Text;

namespace Instrumentation.Generator.Emitting
{
    /// <summary>A string builder that keeps track of indentation and braces.</summary>
    internal sealed class CodeWriter
    {
        private readonly StringBuilder _builder = new();
        private int _indent;

        public CodeWriter Line(string text = "")
        {
            if (text.Length > 0)
            {
                _builder.Append(' ', _indent * 4);
            }

            _builder.Append(text).Append('\n');
            return this;
        }

        public CodeWriter Open(string header)
        {
            Line(header);
            Line("{");
            _indent++;
            return this;
        }

        public CodeWriter Close(string suffix = "")
        {
            _indent = Math.Max(0, _indent - 1);
            return Line("}" + suffix);
        }

        public override string ToString() => _builder.ToString();
    }
}
