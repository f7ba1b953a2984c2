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
      {"2516_8", "2516", 1},                      {"2516_8", "1358", 1}, /* digits or value */
      {"2516_8", "2561", 0},                      {"3000000", "3 million", 1},
      {"2.5 \\text{ billion}", "2500000000", 1}, {"3000", "3 million", 0},
      {"90^\\circ", "90", 1},                     {"90^\\circ", "\\frac{\\pi}{2}", 0}, /* never radians */
  };
  RUN("units, times, bases, mixed numbers", units);
  CHECK_DONE();
}
