/* The answer families of issue 16, each example the issue quotes as a unit test, with the
 * rule it follows (docs/grader.md) and cases on both sides of each rule. RUN compares
 * extracted answers; RUN_RESP whole responses (extraction first). */
#include "eval/grade_cases.h"

int main(void) {
  /* a decimal equals a never-ending exact value rounded or truncated to the digits shown */
  static const tcase rounding[] = {
      {"\\sqrt{2}", "1.414", 1},                 {"\\sqrt{2}", "1.415", 0},
      {"40\\pi", "125.663", 1},                  {"40\\pi", "125.664", 1},
      {"40\\pi", "125.673", 0},
      {"\\frac{1}{432}", "2.3148\\times10^{-3}", 1}, {"\\frac{1}{432}", "2.315 \\times 10^{-3}", 1},
      {"\\frac{1}{432}", "2.3158 \\times 10^{-3}", 0},
      {"\\begin{pmatrix} \\frac13 & 1 \\\\ 2 & \\frac23 \\end{pmatrix}",
       "\\begin{pmatrix} 0.33 & 1 \\\\ 2 & 0.67 \\end{pmatrix}", 1},
      {"\\begin{pmatrix} \\frac13 & 1 \\\\ 2 & \\frac23 \\end{pmatrix}",
       "\\begin{pmatrix} 0.33 & 1 \\\\ 2 & 0.68 \\end{pmatrix}", 0},
      {"(\\frac{1}{3}, 5)", "(0.33, 5)", 1},     {"(\\frac{1}{3}, 5)", "(0.34, 5)", 0},
      {"[\\frac{1}{3}, \\sqrt{2})", "[0.333, 1.414)", 1},
      {"\\frac{1}{8}", "0.12", 0}, /* 1/8 = 0.125 ends: only its exact decimal */
      {"\\frac{1}{432}", "2.3148×10⁻³", 1},      {"\\frac{1}{432}", "2.3148×10⁻⁴", 0}, /* superscripts */
      {"1024", "2¹⁰", 1},                         {"\\sqrt{2}", "\\approx 1.414", 1},
      {"\\sqrt{2}", "≈ 1.415", 0},
  };
  RUN("rounded decimals", rounding);

  /* a label (a name, |AB|, a ratio of names, f(x), P(x)) on one side is dropped */
  static const tcase labels[] = {
      {"AB = 4, CD = 5", "4, 5", 1},             {"AB = 4, CD = 5", "4, 6", 0},
      {"|AB| = 1", "1", 1},                      {"|AB| = 1", "2", 0},
      {"NO/BO = \\frac{1}{\\sqrt{6}}", "\\frac{1}{\\sqrt6}", 1},
      {"\\frac{NO}{BO} = \\frac{1}{\\sqrt{6}}", "\\frac{\\sqrt6}{6}", 1},
      {"W(n) = 1 \\text{ and } W(n) = -1", "W(x)=1 \\text{ or } W(x)=-1", 1},
      {"W(n) = 1 \\text{ and } W(n) = -1", "W(x)=1", 0},
      {"P(x) = x^2 - 1", "P(t) = t^2 - 1", 1},  {"P(x) = x^2 - 1", "P(t) = t^2 + 1", 0},
      {"x \\approx 11", "11", 1},                {"m+n = 371", "371", 1},
      {"m\\angle B = 65^\\circ", "65", 1},
      /* a chain of inequalities on a label is the interval of its values, either way round */
      {"0 < f(x) < 1", "(0, 1)", 1},             {"(0, 1)", "0 < f(x) < 1", 1},
      {"0 < f(x) < 1", "[0, 1)", 0},             {"(0, 1]", "0 < f(x) < 1", 0},
      {"1 \\le |z| \\le 2", "[-2, -1] \\cup [1, 2]", 1}, /* |z| is evaluated, not a label */
      {"0 < f(x) < 1", "0 < y < 1", 1},         {"0 < f(x) < 1", "0 < y \\le 1", 0},
  };
  RUN("labels", labels);

  /* units, clock times, bases, mixed numbers */
  static const tcase units[] = {
      {"10 \\text{ weeks}", "10", 1},            {"10", "10 weeks", 1},
      {"10 \\text{ weeks}", "11", 0},
      {"1 1/2", "1.5", 1},                        {"1.5", "1 \\frac{1}{2}", 1},
      {"1 1/2", "0.5", 0},                        {"-3 1/2", "-3.5", 1},
      {"7 3/4", "\\frac{31}{4}", 1},              {"2 3/4 \\text{ cups}", "2.75", 1},
      {"20:34", "20:34:00", 1},                   {"20:34", "20:34:10", 0},
      {"20:34", "8:34 p.m.", 1},                  {"8:34", "8:34 p.m.", 0},
      {"20:34", "20:34:00 \\text{ hours}", 1},     {"2516_8", "2516_{(8)}", 1},
      {"2516_8", "2516", 1},                      {"2516_8", "1358", 1}, /* digits or value */
      {"2516_8", "2561", 0},                      {"3000000", "3 million", 1},
      {"2.5 \\text{ billion}", "2500000000", 1}, {"3000", "3 million", 0},
      {"90^\\circ", "90", 1},                     {"90^\\circ", "\\frac{\\pi}{2}", 0}, /* never radians */
  };
  RUN("units, times, bases, mixed numbers", units);

  /* a computation with written matrices is the matrix it computes */
  static const tcase matrices[] = {
      {"\\begin{pmatrix} 4 & 6 \\\\ 8 & 10 \\end{pmatrix}",
       "So the sum is $\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix} + \\begin{pmatrix} 3 & 4 \\\\ 5 & 6 \\end{pmatrix}$.", 1},
      {"\\begin{pmatrix} 4 & 6 \\\\ 8 & 11 \\end{pmatrix}",
       "So the sum is $\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix} + \\begin{pmatrix} 3 & 4 \\\\ 5 & 6 \\end{pmatrix}$.", 0},
      {"\\begin{pmatrix} 19 & 22 \\\\ 43 & 50 \\end{pmatrix}",
       "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}\\begin{pmatrix} 5 & 6 \\\\ 7 & 8 \\end{pmatrix}", 1},
      {"\\begin{pmatrix} 19 & 22 \\\\ 43 & 50 \\end{pmatrix}", /* products do not commute */
       "\\begin{pmatrix} 5 & 6 \\\\ 7 & 8 \\end{pmatrix}\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", 0},
      {"\\begin{pmatrix} -2 \\\\ 4 \\end{pmatrix}", "-2\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}", 1},
      {"\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\end{pmatrix} + \\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", 0},
  };
  RUN_RESP("matrix computations", matrices);

  /* extraction from prose: letters, locales, text answers, refusals */
  static const tcase prose[] = {
      {"D", "for sure D, it can't be A or B", 1},  {"A", "for sure D, it can't be A or B", 0},
      {"B", "It is not A and not C. B.", 1},        {"C", "I would pick C; A and B are too small.", 1},
      {"A", "A is the answer since B fails.", 1},  {"B", "A is the answer since B fails.", 0},
      {"C", "(C) is correct, not (B).", 1},
      {"2.74", "Soucis : 2,74 $ a..", 1},           {"2.74", "Soucis : 2,75 $ a..", 0},
      {"1234.5", "Summe: 1.234,5 Euro", 1},         {"1000", "It costs 1,000 dollars.", 1},
      {"1234.5", "Total : 1 234,5 €", 1},           {"1234.5", "1 234,5", 1},
      {"12", "The values are 3,12,45 in order.", 0}, /* a list, not 12.45 */
      {"\\text{Navin}", "Comparing the wages, it is navin.", 1},
      {"\\text{Navin}", "Comparing the wages, it is Luka.", 0},
      {"\\text{even}", "So the function is neither odd nor even.", 0},
      {"\\text{east}", "He ends up facing east.", 1},  {"\\text{east}", "He ends up facing northeast.", 0},
      {"19", "We looked at the covid19 data.", 0},  /* a digit inside a word */
      {"3", "It is a 3x3 grid.", 0},
      {"12", "We have 12 apples. The final answer is $\\boxed{}$.", 0}, /* an empty box */
      {"12", "We have 12 apples. The answer is $$.", 0},                   /* an empty math block */
      {"12", "We have 12 apples, so the answer is $12$.", 1},
      {"-1", "The minimum value is $-1$, attained at $x=0$.", 1}, /* a condition is not the answer */
      {"0", "The minimum value is $-1$, attained at $x=0$.", 0},
      {"6", "There are six ways.", 1},             {"5", "There are six ways.", 0},
      {"\\frac{\\sqrt{3}}{2}", "Thus $\\sin 60^\\circ = \\frac{\\sqrt3}{2} \\approx 0.866$.", 1},
      {"12", "Therefore, there are 12 sequences that meet the three conditions.", 1},
  };
  RUN_RESP("extraction from prose", prose);
  CHECK_DONE();
}
