#!/usr/bin/env python3
"""Reference renderings for the Jinja interpreter (src/text/jinja*.c): each case is a small
template and its variables, rendered by transformers exactly as apply_chat_template renders
(transformers.utils.chat_template_utils.render_jinja_template: ImmutableSandboxedEnvironment,
trim_blocks, lstrip_blocks, loopcontrols, transformers' tojson / raise_exception /
strftime_now / namespace / dict). A case whose rendering raises is recorded with "error": true
(long1k must refuse it too).

Writes tests/text/data/jinja_cases.jsonl. Run with the generator venv:
  /tmp/gen-venv/bin/python tests/text/gen_jinja_cases.py
Made with transformers 5.25.0 and jinja2 3.1.6 (the versions are recorded in every line).
"""
import json
import os

import jinja2
import transformers
from transformers.utils import chat_template_utils as ctu

HERE = os.path.dirname(os.path.abspath(__file__))

M1 = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi  there"},
      {"role": "assistant", "content": "<think>\nplan\n</think>\n\nHello!"}]

CASES = [
    # output, literals, whitespace control
    ("{{ 'a' }}{{ \"b\" }}{{ 1 }}{{ 1.5 }}{{ true }}{{ none }}{{ [1, 'x'] }}{{ {'k': 1} }}", {}),
    ("x  {{- ' y ' -}}  z", {}),
    ("line1\n  {% if true %}\n    in\n  {% endif %}\nline2\n", {}),
    ("a\n{%+ if true %}b{% endif %}\n{# comment #}\nc\n{#- c2 -#}\nd", {}),
    ("{% for m in messages %}\n  {{ m.role }}: {{ m.content }}\n{% endfor %}\n", {"messages": M1}),
    ("{{ 'esc: \\n\\t\\\\ \\' \\u00e9 \\x41' }}", {}),
    ("{{ 'A' ~ 1 ~ none ~ true }}", {}),
    ("trailing newline kept?\n\n", {}),
    ("{%- set x = 3 %}{{ x }}   {{ x + 1 }}\n", {}),
    # arithmetic and comparisons
    ("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2.5 }} {{ 3 * 'ab' }}", {}),
    ("{{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1,2] == [1,2] }} {{ 2 > 1 and not false }} {{ none or 'd' }} {{ 0 and 1 }}", {}),
    ("{{ 1 in [1, 2] }} {{ 'b' in 'abc' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", {}),
    ("{{ 'yes' if 1 > 2 else 'no' }}|{{ 'only' if false }}|", {}),
    ("{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.0e-5 }} {{ 100.0 }} {{ 2.5e16 }} {{ -0.0 }}", {}),
    # loops
    ("{% for x in [10, 20, 30] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
    ("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }},{% endfor %}", {}),
    ("{% for x in [] %}a{% else %}empty{% endfor %}", {}),
    ("{% for x in [1,2,3,4,5] if x is odd %}{{ x }}{{ loop.length }}{% endfor %}", {}),
    ("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}{% for c in 'héllo' %}[{{ c }}]{% endfor %}", {}),
    ("{% set n = 1 %}{% for x in [1, 2] %}{% set n = n + x %}{{ n }}{% endfor %}{{ n }}", {}),
    ("{% for m in messages[::-1] %}{{ m.role }}{% endfor %}|{{ messages[1:] | length }}|{{ messages[-1].role }}", {"messages": M1}),
    ("{% for x in range(2, 11, 3) %}{{ x }}{% endfor %}{% for x in range(3, 0, -1) %}{{ x }}{% endfor %}", {}),
    # namespace, set, macros
    ("{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.n = ns.n + 1 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}", {"messages": M1}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c %}block {{ a }}{% endset %}[{{ c }}]", {}),
    ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }}", {}),
    ("{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(4) }}", {}),
    # filters
    ("{{ '  x y  ' | trim }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}", {}),
    ("{{ [3, 1, 2] | length }} {{ 'héllo' | length }} {{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | reverse }} {{ [1, 2] | reverse | list }}", {}),
    ("{{ ['a', 'b'] | join(', ') }} {{ [1, 2] | join }} {{ messages | map(attribute='role') | join('/') }}", {"messages": M1}),
    ("{{ undefined_var | default('dflt') }} {{ '' | default('e', true) }} {{ none | default('n') }}", {}),
    ("{{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }}", {"messages": M1}),
    ("{{ {'b': 1, 'a': [1, 2.5, 'é', none, true]} | tojson }}", {}),
    ("{{ {'b': 1, 'a': {'x': [1, 2]}} | tojson(indent=2) }}", {}),
    ("{{ {'b': 1, 'a': 'q\"\\n'} | tojson(separators=(',', ':'), sort_keys=true) }}", {}),
    ("{{ '3' | int + 1 }} {{ '2.7' | int }} {{ 'x' | int }} {{ '1.5' | float }} {{ 3 | float }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }}", {}),
    ("{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ [1, 1, 2] | unique | list }} {{ {'b': 1, 'a': 2} | dictsort }} {{ {'x': 1} | items | list }}", {}),
    ("{{ 'l1\\nl2\\n\\nl3' | indent(2) }}|{{ 'l1\\nl2' | indent(4, true) }}", {}),
    ("{{ [1, 2, 3] | sum }} {{ '<a&b>' | escape }} {{ 'x' | safe }} {{ 42 | string }} {{ [1, 2] | string }}", {}),
    ("{{ ['b', 'A', 'c'] | sort | list }} {{ [3, 1] | sort(reverse=true) }} {{ 'x' | list }} {{ [1, 2, 3] | select('odd') | list }}", {}),
    # tests
    ("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is sequence }}", {}),
    ("{{ true is boolean }} {{ false is false }} {{ true is true }} {{ 1 is true }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 1 is in [1] }} {{ 'a' is eq 'a' }} {{ 2 is gt 1 }}", {}),
    ("{{ x is not defined }} {{ 1 is not string }} {{ 1 is sameas 1 }} {{ none is sameas none }}", {}),
    # string methods
    ("{{ '  ab  '.strip() }}|{{ 'xxabxx'.strip('x') }}|{{ '\\n\\nab'.lstrip('\\n') }}|{{ 'ab  '.rstrip() }}|", {}),
    ("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'x</think>y</think>z'.split('</think>')[-1] }}", {}),
    ("{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ 'Hi'.upper() }} {{ 'Hi'.lower() }} {{ 'a b'.title() }} {{ 'abc'.replace('b', 'B') }}", {}),
    ("{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }} {{ 'a\\nb'.splitlines() }}", {}),
    # dict methods, subscripts
    ("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d['a'] }} {{ d.a }} {{ d.missing is defined }}", {"d": {"a": 1, "b": [1, 2]}}),
    ("{{ l[0] }} {{ l[-1] }} {{ l[1:] }} {{ l[:-1] }} {{ l[::2] }} {{ l[5] is defined }} {{ 'héllo'[1] }} {{ 'héllo'[1:3] }} {{ 'abc'[::-1] }}", {"l": [1, 2, 3]}),
    # globals and transformers' kwargs
    ("{{ bos_token }}{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}|{{ enable_thinking is defined }}", {"bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": True}),
    ("{% if enable_thinking is defined and enable_thinking is false %}off{% else %}on{% endif %}", {"enable_thinking": False}),
    ("{{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", {}),
    ("{{ messages[2].reasoning_content }}|{{ messages[2].thinking }}|{{ messages[2] }}", {"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a", "reasoning_content": "r"}]}),
    ("{% generation %}gen {{ 1 }}{% endgeneration %} after", {}),
    ("{{ strftime_now('%Y-%m-%d %d %b %Y') }}", {}),
    # more whitespace control and statements
    ("{%- if true -%}\n  a  \n{%- endif -%}\n|\t{% if true %}x{% endif %}\n  {{ 'v' }}\n|{% if false %}1{% elif none %}2{% elif 3 %}3{% else %}4{% endif %}", {}),
    ("{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}{{ outer.index }}{{ loop.index }}{{ b }} {% endfor %}{% endfor %}", {}),
    ("{{ 'a' 'b' }} {{ [1, 2, 3][1:] | join(',') }} {{ (1, 2) }} {{ (1,) }} {{ {'a': none, 'b': true} }} {{ [\"it's\"] }} {{ ['a\"b'] }}", {}),
    ("{{ 10 / 4 }} {{ 10 // 4 }} {{ -3 % 5 }} {{ 2 ** -1 }} {{ 1 if none else 2 }} {{ true + 1 }} {{ true ~ 1 }} {{ 1e300 * 1e10 }} {{ 'x' * 3 }} {{ 3 * 'x' }}", {}),
    ("{{ messages | selectattr('role', 'in', ['user', 'system']) | list | length }} {{ ['a', 'b'] | map('upper') | join }} {{ 'abc' | first }} {{ (messages | last).role }} {{ messages[0]['content'][0] }}", {"messages": M1}),
    ("{{ 3.0 | int }} {{ '12abc' | int }} {{ ' 42 ' | int }} {{ '0x1A' | int }} {{ 1.5 | round(0, 'floor') }} {{ 2.675 | round(2) }} {{ 'Hello World' | lower | title }} {{ 'a\\tb\\nc' | indent(2, first=true) }}", {}),
    ("{{ [1.0, 1e-7, 1234567890123456789, -0.5] | tojson }} {{ namespace(a=1) }} {{ range(3) | list }} {{ [1, 2] | length > 1 }} {{ not x is defined }} {{ 'a' if 'b' in 'abc' }}", {}),
    ("{%- for m in messages if m.role != 'system' -%}{{ loop.index }}{{ m.role[0] }}{{ loop.length }}{%- endfor %}|{% for k, v in {'b': 1, 'a': 2} | dictsort %}{{ k }}{{ v }}{% endfor %}", {"messages": M1}),
    ("{{ 'a' < 'B' }} {{ 5 is divisibleby(5) }} {{ messages[5] is defined }} {{ [1, 2] + [3] }} {{ 'ab'[5] is defined }}", {"messages": M1}),
    ("{{ x.y is defined }}", {}),
    ("{{ messages[5].role }}", {"messages": M1}),
    ("{% if true %}\n   {% if true %}x{% endif %}{% endif %}|{% if true %}   {% endif %}|{{ 'a' }}   {% if true %}b{% endif %}\n  {# c #}  d\n\t{%- if true %} e{% endif %}", {}),
    ("{% for i in range(2) %}\n    {{ i }}\n{% endfor %}\n{%+ if true %}\n  kept\n{% endif +%}\nafter\n{% if true -%}\n\n  stripped{%- endif %}", {}),
    ("start\r\n{% if true %}\r\nwin\r\n{% endif %}\r\nend", {}),
    # undefined values as Jinja's default Undefined
    ("{{ 'a' in x }}|{{ x in [1] }}|{{ x | length }}|{{ x ~ 'q' }}|{{ x | trim }}|{% for a in x %}{% endfor %}|{{ x == x }}|{{ x | list }}|{{ x is none }}|{{ x | upper }}|{{ x | default(none) }}", {}),
    # errors transformers raises too
    ("{{ raise_exception('bad role: ' ~ 'x') }}", {}),
    ("{{ raise_exception('two\\nlines') }}", {}),
    ("{{ undefined_var.attr }}", {}),
    ("{{ 1 + 'a' }}", {}),
    ("{% for x in 5 %}{% endfor %}", {}),
    ("{% if true %}unclosed", {}),
    ("{{ 1 / 0 }}", {}),
    ("{% set ns = 1 %}{% set ns.x = 2 %}", {}),
]


class FixedDate:
    """strftime_now renders 2024-07-26 (the C test sets LONG1K_TEMPLATE_DATE=2024-07-26)."""

    @staticmethod
    def now():
        import datetime
        return datetime.datetime(2024, 7, 26, 0, 0, 0)


def render(tmpl, variables):
    v = dict(variables)
    msgs = v.pop("messages", [])
    agp = v.pop("add_generation_prompt", False)
    out, _ = ctu.render_jinja_template(conversations=[msgs], chat_template=tmpl,
                                       add_generation_prompt=agp, **v)
    return out[0]


def main():
    ctu.datetime = FixedDate
    versions = {"transformers": transformers.__version__, "jinja2": jinja2.__version__}
    path = os.path.join(HERE, "data", "jinja_cases.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for tmpl, variables in CASES:
            rec = {"template": tmpl, "vars": variables}
            try:
                rec["text"] = render(tmpl, variables)
            except Exception as e:  # noqa: BLE001 -- any error is a refusal to match
                rec["error"] = True
                rec["python_error"] = "%s: %s" % (type(e).__name__, e)
            rec["made_by"] = versions
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print("wrote", path, len(CASES), "cases")


if __name__ == "__main__":
    main()
