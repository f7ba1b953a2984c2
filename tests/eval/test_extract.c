/* Unit tests of answer extraction (l1k_extract_answer, l1k_extract_boxed), multiple choice
 * (l1k_extract_choice) and whole-response grading (l1k_grade_response). */
#include "check.h"
#include "long1k/grade.h"

static void ex(const char *resp, const char *want) {
  char *got = l1k_extract_answer(resp, strlen(resp));
  if (!want) CHECK_MSG(got == NULL, "'%s': expected no answer, got '%s'", resp, got ? got : "");
  else CHECK_MSG(got && !strcmp(got, want), "'%s': expected '%s', got '%s'", resp, want, got ? got : "(null)");
  free(got);
}

static void choice(const char *resp, int n, int want) {
  int got = l1k_extract_choice(resp, strlen(resp), n);
  CHECK_MSG(got == want, "'%s': expected %c, got %c", resp, want ? want : '0', got ? got : '0');
}

static void grade(const char *gold, const char *resp, int choices, int want) {
  l1k_grade_result r;
  CHECK(l1k_grade_response(gold, resp, strlen(resp), choices, &r) == 0);
  CHECK_MSG(r.correct == want, "gold '%s' vs '%s': expected %d (extracted '%s')", gold, resp, want,
            r.extracted ? r.extracted : "(null)");
  l1k_grade_result_free(&r);
}

int main(void) {
  /* boxed: last, nested braces, \fbox, \boxed 5, escaped backslashes, unbalanced */
  ex("so \\boxed{3} then \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}");
  ex("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)");
  ex("the value is \\fbox{42}", "42");
  ex("thus \\boxed 5.", "5");
  ex("the answer should be \\\\boxed{004}.", "004");
  ex("truncated \\boxed{\\frac{1}{", "\\frac{1}{");
  char *b = l1k_extract_boxed("a \\boxed{1} b \\boxed{{2}}", 24);
  CHECK(b && !strcmp(b, "{2}"));
  free(b);
  CHECK(l1k_extract_boxed("no box here", 11) == NULL);

  /* reasoning part ignored */
  ex("<think>maybe \\boxed{7}? no</think>The answer is \\boxed{8}.", "8");
  ex("<|begin_of_thought|>try \\boxed{1}<|end_of_thought|><|begin_of_solution|>So \\boxed{2}<|end_of_solution|>", "2");
  ex("<think>only thinking, \\boxed{9}</think>   ", "9"); /* empty final part: whole text */
  ex("<think>Let me compute 6 times 7 ... (cut off)", NULL); /* unfinished reasoning: no number */
  ex("<think>so far \\boxed{41} but", "41");                  /* an explicit box still counts */

  /* composite answers: boxed answers joined by a short connector */
  ex("$\\boxed{2}, \\boxed{3}, \\boxed{5}$", "2, 3, 5");
  ex("\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}", "(2, 2), (6, 2)");
  ex("\\boxed{1} no no no no no \\boxed{2}", "2");
  ex("\\boxed{1} and and and or thus but \\boxed{2} and \\boxed{3}", "2, 3");
  ex("We get \\boxed{3}.\n\nWait, that is wrong. Actually \\boxed{5}", "5");
  ex("\\boxed{004}\n\n**Final Answer**\n\\boxed{004}", "004");

  /* phrases */
  ex("Final Answer: The final answer is $(0, 1)$. I hope it is correct.", "(0, 1)");
  ex("Final Answer: The largest $n$ is 34.", "34");
  ex("Final Answer: Jane started growing Sphere 3 hours ago.", "3");
  ex("The answer is 12.", "12");
  ex("Answer: $\\frac{3}{4}$", "\\frac{3}{4}");
  ex("Réponse: Janeth aura encore 220 $ à payer d'ici 12 mois.", "220");
  ex("\xe7\xad\x94\xe6\xa1\x88\xef\xbc\x9a\xe6\xaf\x8f\xe4\xbb\xbd (\\frac{2}{5}) \xe5\x90\xa8\xe3\x80\x82", "(\\frac{2}{5})");
  ex("<answer>17</answer>", "17");
  ex("<answer>so \\boxed{18}</answer>", "18");

  ex("**Answer:** 42", "42");
  ex("**Answer**: 43", "43");
  ex("so it is 12.\n\n**Final Answer**\n44", "44");
  ex("The answer is \\(\\frac{1}{2}\\).", "\\frac{1}{2}");
  ex("The final answer is 5 dollars.", "5 dollars");
  ex("Therefore, the answer is $\\boxed{5}$. Let me double check: 2+3 = 5.", "5");
  ex("</think>\n\n**Final Answer**\n\\[\n\\boxed{\\dfrac{3}{4}}\n\\]<|im_end|>", "\\dfrac{3}{4}");
  ex("so the box \\boxed{130} was a guess.\n\nThe answer is $8$.", "8");

  /* math segments and numbers */
  ex("Answer \\[ 9 \\]", "9");
  ex("We find that $x \\neq 3$.", "x \\neq 3");
  ex("$1$ and $2$ and $3$", "1, 2, 3");
  ex("so the number is 10 which is 1,000.99m", "1,000.99");
  ex("La r\xc3\xa9" "duction est de 30 $. Le co\xc3\xbbt final est donc de 100 - 30 = 70", "70");
  ex("no digits at all", NULL);

  /* multiple choice */
  choice("thinking about it I think the correct answer is C", 4, 'C');
  choice("Let's think step by step. It's not A because it doesn't make sense, therefore I think it's B", 4, 'B');
  choice("D. it can't be A or B", 4, 'D');
  choice("r\xc3\xa9ponse est C non A", 4, 'C');
  choice("B\xe3\x80\x82 \xe4\xb8\x8d\xe6\x98\xaf A", 4, 'B');
  choice("Alina and the answer is\n(C) Cecile", 4, 'C');
  choice("A man walks into a bar. The final choice is **B**", 4, 'B');
  choice("A cat sat on a mat, so the best option is D", 4, 'D');
  choice("A man walks in and has a drink", 4, 0); /* the article, not a choice */
  choice("the answer is \\boxed{E}", 4, 0);         /* only A-D allowed */
  choice("the answer is \\boxed{E}", 5, 'E');
  choice("Answer: (B)", 4, 'B');
  choice("**Answer: C**", 4, 'C');
  choice("The answer is C) 12", 4, 'C');
  choice("Option B is correct.", 4, 'B');
  choice("I think (A) and (B) are wrong; it's (D).", 4, 'D');
  choice("<think>maybe the answer is A</think>The answer is \\boxed{B}", 4, 'B');

  /* whole responses */
  grade("\\frac{639}{40}", "$d = 15\\frac{975}{1000} = \\boxed{15\\frac{39}{40}},$ or $\\boxed{\\frac{639}{40}}$ inches.", 0, 1);
  grade("20\\%", "so $\\frac{1}{5}=\\boxed{20 \\%}$. Final Answer: The final answer is $20 \\%$.", 0, 1);
  grade("(1,2)", "<think>\\boxed{(1,2)}</think> The point is \\boxed{(2,1)}", 0, 0);
  grade("B", "After long thought, the answer is (B).", 4, 1);
  grade("B", "After long thought, the answer is (C).", 4, 0);
  grade("3", "", 0, 0);
  CHECK_DONE();
}
