/* Unit tests of the grader's normalization rules, one group per rule (docs/grader.md).
 * Each case: gold, pred, expected verdict of l1k_math_equal_answers (no extraction). */
#include "eval/grade_cases.h"

int main(void) {
  static const tcase left_right[] = {
      {"\\left(x-2\\right)\\left(x+2\\right)", "(x-2)(x+2)", 1},
      {"\\left[ 1, 2 \\right]", "[1,2]", 1},
      {"\\left\\{ 1, 2 \\right\\}", "\\{2, 1\\}", 1},
      {"\\bigl( 3 \\bigr)", "3", 1},
      {"\\left. x \\right|", "x", 0}, /* "|" alone is not an absolute value */
  };
  RUN("left/right", left_right);

  /* issue 18: the lexer's command table (mathexpr_lex.c k_cmds), one case per action */
  static const tcase commands[] = {
      {"x \\leqslant 3", "x \\le 3", 1},      {"x \\geqq 3", "x \\ge 3", 1},
      {"a \\coloneqq 2", "a = 2", 1},          {"\\lvert -4 \\rvert", "4", 1},
      {"3 \\bullet 4", "12", 1},               {"8 \\div 2", "4", 1},
      {"\\Bbb{R}", "(-\\infty, \\infty)", 1}, {"\\mathbb{R}", "\\R", 1},
      {"\\overline{12}", "12", 1},             {"\\hspace{1cm} 7", "7", 1},
      {"\\displaystyle\\tfrac{1}{2}", "0.5", 1}, {"\\dbinom{5}{2}", "10", 1},
      {"\\langle 1, 2 \\rangle", "(1, 2)", 1}, {"\\operatorname{sin}(0)", "0", 1},
      {"\\lceil 2.1 \\rceil", "3", 1},          {"\\lfloor 2.1 \\rfloor", "3", 0},
      {"x \\Rightarrow 3", "3", 0},             {"\\varnothing", "\\emptyset", 1},
      {"\\begin{bmatrix} 1 & 2 \\end{bmatrix}", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}", 1},
      {"\\begin{array}{cc} 1 & 2 \\end{array}", "\\begin{pmatrix} 1 & 3 \\end{pmatrix}", 0},
  };
  RUN("LaTeX commands (lexer table)", commands);

  static const tcase fracs[] = {
      {"\\dfrac{1}{3}", "\\frac{1}{3}", 1},   {"\\tfrac12", "0.5", 1},
      {"\\frac 59", "5/9", 1},                {"\\frac3{3}", "1", 1},
      {"\\cfrac{2}{4}", "1/2", 1},            {"\\frac{1}{3}", "1/4", 0},
      {"2\\frac58", "2.625", 1},               {"-1\\frac12", "-1.5", 1},
      {"2\\frac{x}{3}", "\\frac{2x}{3}", 1},  {"\\frac94\\pi", "\\frac{9}{4}\\pi", 1},
      {"2/(-3)", "-2/3", 1},                  {"\\frac{1}{0}", "1", 0},
  };
  RUN("fractions and mixed numbers", fracs);

  static const tcase text_units[] = {
      {"10\\text{ units}", "10", 1},          {"15\\mbox{ cm}^2", "15", 1},
      {"10 \\text{ cm}^{2}", "10", 1},        {"64", "64 square feet", 1},
      {"\\frac{1}{3} \\textbf{meters}", "1/3", 1},
      {"125\\textnormal{ miles}", "125", 1},  {"10cm", "10", 0}, /* letters on the number: c*m */
      {"\\text{odd}", "odd", 1},              {"odd", "\\text{oddd}", 0},
      {"\\text{E}", "E", 1},                  {"\\mathrm{E}", "E", 1},
      {"\\text{(A)}", "A", 1},                {"17\\text{ any text}", "17", 1},
      {"\\text{Evelyn}", "\\text{evelyn}", 1},
  };
  RUN("text and units", text_units);

  static const tcase degrees[] = {
      {"90^\\circ", "90", 1},       {"90^{\\circ}", "90", 1},      {"75^\\circ", "75\\degree", 1},
      {"45°", "45", 1},             {"\\sin(90^{\\circ}-x)", "\\cos(x)", 1},
      {"30^\\circ", "31", 0},       {"60 degrees", "60", 1},
  };
  RUN("degrees", degrees);

  static const tcase percent[] = {
      {"10\\%", "10", 1}, {"10%", "10", 1}, {"28\\%", "28 pct", 1}, {"20\\%", "0.2", 1},
      {"5\\%", "6", 0},   {"12.5 percent", "12.5", 1},
  };
  RUN("percent", percent);

  static const tcase separators[] = {
      {"7425000", "7,425,000", 1}, {"1000.0", "1,000.0", 1},   {"14916", "14{,}916", 1},
      {"11111111100", "11,\\!111,\\!111,\\!100", 1},          {"1000", "1\\,000", 1},
      {"32349", "32, 349", 0},     /* a space after the comma: a list */
      {"1,2", "1, 2", 1},          /* two numbers, not 1.2 */
  };
  RUN("thousands separators", separators);

  static const tcase numbers[] = {
      {"0.4", ".4", 1},          {"1000", "1000.0", 1},    {"004", "4", 1},
      {"1.0", "1", 1},           {"1.1", "1", 0},          {"\\frac{1}{3}", "0.3333", 1},
      /* rounding (issue 16): a never-ending exact value rounded or truncated to the digits
       * shown, at least 2 significant digits */
      {"\\frac{1}{3}", "0.33", 1},  {"\\frac{1}{3}", "0.3", 0},   {"\\frac{1}{3}", "0.34", 0},
      {"\\pi", "3.14", 1},      {"\\pi", "3.15", 0},      {"\\pi", "3.1416", 1},
      {"\\sqrt{2}", "1.4142", 1}, {"\\sqrt{2}", "1.414", 1},  {"\\sqrt{2}", "1.415", 0},
      {"40\\pi", "125.66", 1},   {"40\\pi", "125.664", 1},  {"40\\pi", "125.663", 1}, /* truncated */
      {"40\\pi", "125.665", 0},  {"40\\pi", "125.662", 0},  {"40\\pi", "126", 0},
      {"\\frac{1}{432}", "2.3148 \\times 10^{-3}", 1}, {"\\frac{1}{432}", "2.3148e-3", 1},
      {"\\frac{1}{432}", "2.3149 \\times 10^{-3}", 0}, {"\\frac{1}{432}", "2.3148 \\times 10^{-4}", 0},
      {"\\frac{1}{8}", "0.125", 1}, {"\\frac{1}{8}", "0.13", 0},  /* 1/8 ends: no rounding */
      {"-\\frac{2}{3}", "-0.667", 1}, {"-\\frac{2}{3}", "0.667", 0}, {"0.25", "0.3", 0},
      /* repeating decimals are exact; "0.333..." shows its digits */
      {"\\frac{1}{3}", "0.\\overline{3}", 1}, {"\\frac{1}{6}", "0.1\\overline{6}", 1},
      {"\\frac{15}{7}", "2.\\overline{142857}", 1}, {"0.\\overline{3}", "0, 3", 0},
      {"\\frac{1}{3}", "0.333...", 1},   {"\\frac{1}{3}", "0.334\\ldots", 0},
      {"\\frac{243}{625}", "0.3888", 1},
      {"5866608", "5866609", 0}, {"11111111100", "11111111101", 0},
      {"1.5e3", "1500", 1},      {"2.5 \\times 10^{3}", "2500", 1}, {"3E-2", "0.03", 1},
      {"\\$10", "10", 1},        {"16386.17", "\\$16386.17", 1},
  };
  RUN("numbers, rounding, scientific notation", numbers);

  static const tcase labels[] = {
      {"x = 1/3", "1/3", 1},        {"f(x) = 2x + 3", "2x+3", 1},     {"f(x) = 2x + 3", "y = 2x + 3", 1},
      {"(p,q)=(3,2)", "(3,2)", 1},  {"a + 3z = 0", "0", 0},           {"V_{1}:V_{2}=11:21", "11:21", 1},
      {"x \\in [-2,7]", "[-2,7]", 1}, {"x = 1, y = 2, z = 3", "1, 2, 3", 1},
      {"p=5,q=2;p=7,q=2", "(5,2),(7,2)", 1}, {"a_3 = 2, a_{37} = 19", "a_{37} = 19, a_3 = 2", 1},
      {"\\sin(x)=\\frac{42}{59}", "\\cos(x)=\\frac{42}{59}", 0},
      {"(2,3)", "x=2, y=3", 1},      {"(2,3)", "x=3, y=2", 0}, /* labeled values keep their order */
      {"a=2, b=3", "b=3, a=2", 1},   {"a=2, b=3", "a=3, b=2", 0}, /* label by label */
  };
  RUN("labels (x = ...)", labels);

  static const tcase pm[] = {
      {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", 1},
      {"3 \\pm 2 \\sqrt{2}", "3 \\pm 2\\sqrt2", 1},
      {"\\{1\\pm\\sqrt{5},-2\\}", "\\{-2, 1+\\sqrt5, 1-\\sqrt5\\}", 1},
      {"\\pm 2", "2, -2", 1},
      {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}", 0},
  };
  RUN("plus-minus", pm);

  static const tcase infinity_empty[] = {
      {"[1,+\\infty)", "[1, \\infty)", 1},      {"(-\\infty, 0)", "(-oo, 0)", 1},
      {"\\emptyset", "\\varnothing", 1},        {"\\emptyset", "\\{\\}", 1},
      {"\\infty", "-\\infty", 0},               {"[1,+\\infty)", "[2^{\\frac{1}{2^{1000}}}, \\infty)", 1},
  };
  RUN("infinity and empty set", infinity_empty);

  static const tcase approx[] = {
      {"\\frac{\\sqrt{3}}{3}", "\\frac{\\sqrt{3}}{3} \\approx 0.577", 1},
      {"x = 1/3", "x = 5+5+1 = 1/3 \\approx 11", 1},
      {"105", "35 + 70 = 105", 1},
  };
  RUN("approximations and equation chains", approx);

  static const tcase double_backslash[] = {
      {"\\sqrt{5}", "\\\\sqrt{5}", 1},
      {"\\left(\\frac{4}{5},\\frac{1}{5}\\right)", "\\\\left(\\\\frac{4}{5},\\\\frac{1}{5}\\\\right)", 1},
      {"\\tfrac23 +\\frac1{72}", "\\\\dfrac{2}{3} +\\frac{1}{72}", 1},
  };
  RUN("escaped backslashes", double_backslash);

  static const tcase bases[] = {
      {"1011_2", "11", 1}, {"2012_{3}", "59", 1}, {"17_8", "15", 1}, {"1011_2", "12", 0},
      /* issue 16: the digits written bare, in the question's base, are the answer too */
      {"1011_2", "1011", 1}, {"2516_8", "2516", 1}, {"2516_8", "2515", 0}, {"0017_8", "17", 1},
  };
  RUN("base subscripts", bases);

  static const tcase times[] = {
      {"20:34", "08:34 \\text{P.M.}", 1}, {"12:00", "1:00", 0}, {"7:32", "7:32", 1},
  };
  RUN("clock times", times);

  static const tcase option_labels[] = {
      {"27", "\\textbf{(C) }27", 1}, {"12", "(B) 12", 1}, {"12", "(B) 13", 0},
      {"(A)(B)", "(A)(B)", 1}, /* a product, not a label */
  };
  RUN("multiple-choice option labels", option_labels);

  CHECK_DONE();
}
