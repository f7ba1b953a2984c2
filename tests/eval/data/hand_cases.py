"""Hand-written cases of the grader's test set (gen_grader_cases.py): MATH500 / AIME / AMC
golds (../shared/eval/*.jsonl) against answers phrased as models write them, and the
conventions of public graders, each with its source and the reason for its verdict. Written
for this set; the convention each follows is cited."""

M500 = "HuggingFaceH4/MATH-500 test.jsonl (../shared/eval/math500.jsonl line {})"
MV = "huggingface/Math-Verify@5d148cf tests/test_all.py (convention of {})"
LE = "huggingface/lighteval tests/unit/metrics/test_extractive_match.py (convention of {})"
PRM = "openai/prm800k@7ecc794 prm800k/grading/grader.py ({})"
MIN = "EleutherAI/lm-evaluation-harness lm_eval/tasks/minerva_math/utils.py ({})"
QW = "QwenLM/Qwen2.5-Math@a45202b evaluation/grader.py ({})"
AIME = "AIME 2024 answers (../shared/eval/aime24.jsonl line {})"


def m(line, gold, pred, equal, reason):
    return {"gold": gold, "pred": pred, "equal": bool(equal), "source": M500.format(line), "reason": reason}


def s(src, gold, pred, equal, reason):
    return {"gold": gold, "pred": pred, "equal": bool(equal), "source": src, "reason": reason}


def rounding():
    r = "decimal rounding (Math-Verify float_rounding; Qwen2.5-Math numeric tolerance)"
    return [
        s(MV.format(r), "\\sqrt{3}", "1.732", 1, "sqrt(3) = 1.73205..., rounded to 3 places is 1.732"),
        s(MV.format(r), "\\sqrt{3}", "1.733", 0, "the third place is wrong"),
        s(MV.format(r), "\\sqrt{5}", "2.236", 1, "sqrt(5) = 2.23606..."),
        s(MV.format(r), "\\sqrt{5}", "2.237", 0, "2.23606 rounds to 2.236, not 2.237"),
        s(MV.format(r), "2\\pi", "6.283", 1, "2 pi = 6.28318..."),
        s(MV.format(r), "2\\pi", "6.28", 1, "rounded to 2 places"),
        s(MV.format(r), "2\\pi", "6.29", 0, "6.28318 rounds to 6.28"),
        s(MV.format(r), "\\frac{2}{3}", "0.667", 1, "2/3 rounded to 3 places"),
        s(MV.format(r), "\\frac{2}{3}", "0.666", 1, "truncated to the digits shown: every shown digit is right (as 40 pi written 125.663, issue 16)"),
        s(MV.format(r), "\\frac{1}{7}", "0.142857", 1, "1/7 = 0.1428571..."),
        s(MV.format(r), "\\frac{1}{7}", "0.1429", 1, "1/7 rounded to 4 places"),
        s(MV.format(r), "\\frac{1}{7}", "0.1428", 1, "truncated to the digits shown: every shown digit is right (as 40 pi written 125.663, issue 16)"),
        s(MV.format(r), "e^2", "7.389", 1, "e^2 = 7.389056..."),
        s(MV.format(r), "\\ln 2", "0.693", 1, "ln 2 = 0.693147..."),
        s(MV.format(r), "\\ln 2", "0.694", 0, "the third place is wrong"),
        s(MV.format(r), "\\frac{1}{400}", "2.5 \\times 10^{-3}", 1, "scientific notation of the exact value"),
        s(MV.format(r), "\\frac{1}{3000}", "3.333 \\times 10^{-4}", 1, "1/3000 = 3.3333e-4 rounded to 4 digits"),
        s(MV.format(r), "\\frac{1}{3000}", "3.334 \\times 10^{-4}", 0, "a shown digit is wrong"),
        s(MV.format(r), "\\frac{1}{3000}", "3.333e-4", 1, "e-notation"),
        s(MV.format(r), "6.02 \\times 10^{23}", "602000000000000000000000", 1, "same number, written out"),
        s(MV.format(r), "(\\frac{1}{3}, \\frac{2}{3})", "(0.333, 0.667)", 1, "each coordinate rounded to 3 places"),
        s(MV.format(r), "(\\frac{1}{3}, \\frac{2}{3})", "(0.333, 0.666)", 1, "truncated to the digits shown: every shown digit is right (as 40 pi written 125.663, issue 16)"),
        s(MV.format(r), "(\\sqrt{2}, 1)", "(1.41, 1)", 1, "sqrt 2 rounded to 2 places inside a tuple"),
        s(MV.format(r), "\\begin{pmatrix} \\frac{2}{3} \\\\ \\frac{1}{6} \\end{pmatrix}",
          "\\begin{pmatrix} 0.67 \\\\ 0.17 \\end{pmatrix}", 1, "entries rounded to 2 places"),
        s(MV.format(r), "\\begin{pmatrix} \\frac{2}{3} \\\\ \\frac{1}{6} \\end{pmatrix}",
          "\\begin{pmatrix} 0.67 \\\\ 0.16 \\end{pmatrix}", 1, "truncated to the digits shown: every shown digit is right (as 40 pi written 125.663, issue 16)"),
        s(MV.format(r), "[\\frac{1}{3}, \\pi]", "[0.333, 3.142]", 1, "interval ends rounded"),
        s(MV.format(r), "[\\frac{1}{3}, \\pi]", "[0.333, 3.141]", 1, "truncated to the digits shown: every shown digit is right (as 40 pi written 125.663, issue 16)"),
        s(MV.format(r), "\\frac{1}{8}", "0.125", 1, "exact"),
        s(MV.format(r), "\\frac{1}{8}", "0.12", 0, "1/8 = 0.125 ends: its decimal is exact, "
          "so 0.12 is a different value"),
        s(MV.format(r), "0.5", "0.50", 1, "trailing zero"),
        s(MV.format(r), "0.25", "0.3", 0, "a decimal gold is exact; a coarser decimal is not equal"),
        s(MV.format(r), "2.5", "2.54", 0, "a decimal gold is the exact value; 2.54 is not 2.5"),
        s(MV.format(r), "3", "3.4", 0, "an integer gold rounded to one place is 3.0"),
        s(MV.format(r), "100\\sqrt{2}", "141.42", 1, "100 sqrt 2 = 141.421..."),
        s(MV.format(r), "100\\sqrt{2}", "141", 0, "an integer is not a rounding of an irrational value"),
        s(MV.format(r), "-\\frac{5}{3}", "-1.667", 1, "negative value rounded"),
        s(MV.format(r), "-\\frac{5}{3}", "-1.666", 1, "truncated to the digits shown: every shown digit is right (as 40 pi written 125.663, issue 16)"),
    ]


def labels():
    r = "labels on gold answers (minerva normalize_final_answer splits on '='; Math-Verify drops labels)"
    return [
        s(MIN.format(r), "PQ = 7, QR = 9", "7, 9", 1, "labels of the gold dropped, values in order"),
        s(MIN.format(r), "PQ = 7, QR = 9", "7, 8", 0, "the second value differs"),
        s(MIN.format(r), "|PQ| = 3", "3", 1, "the label |PQ| is dropped"),
        s(MIN.format(r), "|PQ| = 3", "4", 0, "different value"),
        s(MIN.format(r), "AC/BC = \\frac{2}{3}", "\\frac{2}{3}", 1, "a ratio of lengths as label"),
        s(MIN.format(r), "AC/BC = \\frac{2}{3}", "\\frac{3}{2}", 0, "reciprocal"),
        s(MIN.format(r), "f(x) = 2x + 1", "2x+1", 1, "a function label dropped"),
        s(MIN.format(r), "f(x) = 2x + 1", "2x+2", 0, "different function"),
        s(MIN.format(r), "P(x) = x^2 - 1", "P(t) = t^2 - 1", 1, "the same function written in another variable"),
        s(MIN.format(r), "a = 2, b = 5", "2, 5", 1, "labeled values in order"),
        s(MIN.format(r), "\\angle ABC = 40^\\circ", "40", 1, "an angle label"),
        s(MIN.format(r), "m\\angle B = 65^\\circ", "65^\\circ", 1, "an angle measure label"),
        s(MIN.format(r), "0 < g(x) \\le 2", "(0, 2]", 1, "the range written as an inequality on g(x)"),
        s(MIN.format(r), "0 < g(x) \\le 2", "(0, 2)", 0, "the closed end differs"),
        s(MIN.format(r), "(0, 2]", "0 < y \\le 2", 1, "an interval gold against an inequality on the variable"),
        s(MIN.format(r), "(0, 2]", "0 < f(x) \\le 2", 1, "an interval gold against the range written on f(x)"),
        s(MIN.format(r), "h(n) = 0 \\text{ and } h(n) = 2", "h(x) = 0 \\text{ or } h(x) = 2", 1,
          "two solutions, labels in another variable"),
        s(MIN.format(r), "h(n) = 0 \\text{ and } h(n) = 2", "h(x) = 0", 0, "one solution missing"),
    ]


def units_times_bases():
    return [
        s(PRM.format("unit words"), "8", "8 \\text{ days}", 1, "unit word dropped"),
        s(PRM.format("unit words"), "8 \\text{ days}", "8", 1, "unit word on the gold dropped"),
        s(PRM.format("unit words"), "8 \\text{ days}", "9 days", 0, "different number"),
        s(PRM.format("unit words"), "3 \\text{ hours}", "3", 1, "unit word on the gold dropped"),
        s(PRM.format("unit words"), "15 \\text{ cm}^2", "15", 1, "squared unit dropped"),
        s(QW.format("clock times"), "9:05", "9:05:00", 1, "seconds :00 are the same time"),
        s(QW.format("clock times"), "9:05", "9:05:30", 0, "thirty seconds later"),
        s(QW.format("clock times"), "14:20", "2:20 p.m.", 1, "12-hour clock"),
        s(QW.format("clock times"), "14:20", "14:02", 0, "different minutes"),
        s(QW.format("clock times"), "6:00", "6:00 \\text{ a.m.}", 1, "a.m. keeps the hour"),
        s(M500.format(31), "52_8", "52", 1, "base subscript: the digits as written in base 8"),
        s(M500.format(31), "52_8", "53", 0, "different digits"),
        s(M500.format(138), "204_5", "204", 1, "the digits in the question's base"),
        s(M500.format(138), "204_5", "205", 0, "different digits"),
        s(M500.format(339), "4343_6", "4343_{6}", 1, "braced base"),
        s(PRM.format("mixed numbers"), "4\\frac{2}{3}", "\\frac{14}{3}", 1, "mixed number"),
        s(PRM.format("mixed numbers"), "\\frac{14}{3}", "4 2/3", 1, "plain mixed number"),
        s(PRM.format("mixed numbers"), "\\frac{8}{3}", "4 2/3", 0, "4 2/3 is 14/3, not 4 x 2/3"),
        s(PRM.format("mixed numbers"), "5.25", "5 \\frac14", 1, "mixed number with \\frac14"),
        s(PRM.format("mixed numbers"), "2.75", "2 3/4 \\text{ cups}", 1, "mixed number with a unit"),
    ]


def extraction():
    return [
        s(LE.format("extraction_abc"), "C", "The options A and B fail the test, so the answer must be C.", 1,
          "the letter named as the answer, not the letters ruled out"),
        s(LE.format("extraction_abc"), "B", "It is definitely B; A and D contradict the second condition.", 1,
          "the affirmed letter"),
        s(LE.format("extraction_abc"), "A", "Not B and not C. The answer is A.", 1, "answer phrase"),
        s(LE.format("extraction_abc"), "D", "I'd pick D, since A, B and C are all too small.", 1,
          "the picked letter; the rest are ruled out"),
        s(LE.format("extraction_abc"), "A", "I'd pick D, since A, B and C are all too small.", 0,
          "A is ruled out"),
        s(LE.format("extraction_abc"), "E", "Certainly E. It cannot be C.", 1, "negated letter is not a choice"),
        s(LE.format("extraction_abc"), "C", "Certainly E. It cannot be C.", 0, "C is the negated letter"),
        s(MV.format("decimal comma"), "3.5", "Prix : 3,50 €", 1, "decimal comma in French formatting"),
        s(MV.format("decimal comma"), "12.75", "Gesamt: 12,75 Euro", 1, "decimal comma in German formatting"),
        s(MV.format("decimal comma"), "1234.5", "Summe: 1.234,5", 1, "dot thousands and comma decimal"),
        s(MV.format("decimal comma"), "12.75", "Gesamt: 12,76 Euro", 0, "different amount"),
        s(MV.format("text answers"), "\\text{east}", "So he ends up facing east.", 1, "a text gold in the final sentence"),
        s(MV.format("text answers"), "\\text{east}", "So he ends up facing west.", 0, "another direction"),
        s(MV.format("text answers"), "\\text{Evelyn}", "The student with the greatest speed is evelyn.", 1,
          "text answer, case ignored"),
        s(MV.format("text answers"), "\\text{Evelyn}", "The student with the greatest speed is Briana.", 0,
          "another student"),
        s(MV.format("text answers"), "\\text{even}", "Therefore the function is even.", 1, "text answer after 'is'"),
        s(MV.format("text answers"), "\\text{even}", "Therefore the function is odd.", 0, "odd is not even"),
        s(MV.format("refusals"), "3", "We get 3x3 grids in the covid19 data, and no answer.", 0,
          "digits glued to letters are not answers"),
        s(MV.format("refusals"), "5", "The final answer is $\\boxed{}$.", 0, "an empty box is no answer"),
        s(MV.format("refusals"), "7", "Hence the value is $$.", 0, "an empty math block is no answer"),
        s(MV.format("computations"), "\\begin{pmatrix} 4 & 6 \\\\ 4 & 6 \\end{pmatrix}",
          "Adding entrywise, the sum is $\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix} + "
          "\\begin{pmatrix} 3 & 4 \\\\ 1 & 2 \\end{pmatrix}$.", 1, "the last expression is a computation: evaluated"),
        s(MV.format("computations"), "\\begin{pmatrix} 2 & 4 \\\\ 6 & 8 \\end{pmatrix}",
          "So the result is $2\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$.", 1, "scalar times matrix"),
        s(MV.format("computations"), "\\begin{pmatrix} 2 & 4 \\\\ 6 & 9 \\end{pmatrix}",
          "So the result is $2\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$.", 0, "one entry differs"),
        s(MV.format("computations"), "17", "The total is $8 + 9$.", 1, "a sum stated as the answer"),
        s(MV.format("computations"), "18", "The total is $8 + 9$.", 0, "8 + 9 is 17"),
    ]


def phrasings():
    c = []
    c += [
        m(1, "\\left( 3, \\frac{\\pi}{2} \\right)", "In polar coordinates the point is $(3, \\pi/2)$.", 1,
          "same point"),
        m(1, "\\left( 3, \\frac{\\pi}{2} \\right)", "In polar coordinates the point is $(3, 1.5708)$.", 1,
          "pi/2 rounded to 4 places"),
        m(1, "\\left( 3, \\frac{\\pi}{2} \\right)", "So $(r, \\theta) = (3, \\pi)$.", 0, "wrong angle"),
        m(24, "x=5", "Solving gives $x = 5$.", 1, "same equation"),
        m(24, "x=5", "Thus the solution is $\\boxed{5}$.", 1, "the value of the labeled gold"),
        m(24, "x=5", "Thus the solution is $\\boxed{x=-5}$.", 0, "sign"),
        m(26, "1,-2", "The solutions are $x=1$ and $x=-2$.", 1, "both solutions, labeled"),
        m(26, "1,-2", "The solutions are $\\boxed{-2, 1}$.", 1, "order of solutions does not matter"),
        m(26, "1,-2", "The solutions are $\\boxed{1}$.", 0, "one solution missing"),
        m(37, "3, 5, 7", "The primes are $3$, $5$, and $7$.", 1, "three math segments joined by 'and'"),
        m(61, "(6,31,-1)", "The ordered triple is $\\boxed{(6, 31, -1)}$.", 1, "same triple"),
        m(61, "(6,31,-1)", "The ordered triple is $\\boxed{(31, 6, -1)}$.", 0, "an ordered triple swapped"),
        m(97, "1 \\pm \\sqrt{19}", "The roots are $1+\\sqrt{19}$ and $1-\\sqrt{19}$.", 1, "plus-minus expanded"),
        m(97, "1 \\pm \\sqrt{19}", "The roots are $1+\\sqrt{19}$.", 0, "one root missing"),
        m(100, "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
          "$\\boxed{\\begin{pmatrix} -0.333 \\\\ 0.667 \\\\ 1.667 \\end{pmatrix}}$", 1, "entries rounded"),
        m(100, "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
          "$\\boxed{\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{pmatrix}}$", 1, "fractions"),
        m(100, "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
          "$\\boxed{\\begin{pmatrix} 1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}}$", 0, "sign of the first entry"),
        m(104, "(3,4]", "The solution set is $3 < x \\le 4$.", 1, "interval as inequalities"),
        m(104, "(3,4]", "The solution set is $[3, 4]$.", 0, "closed left end"),
        m(167, "\\frac{270}7\\text{ degrees}", "The angle is $\\frac{270}{7}^\\circ$.", 1, "degrees"),
        m(167, "\\frac{270}7\\text{ degrees}", "The angle is about $38.57^\\circ$.", 1, "270/7 = 38.571... rounded"),
        m(167, "\\frac{270}7\\text{ degrees}", "The angle is about $38.58^\\circ$.", 0, "wrong rounded digit"),
        m(185, "(2,\\infty)", "The domain is $x > 2$.", 1, "interval as inequality"),
        m(185, "(2,\\infty)", "The domain is $x \\ge 2$.", 0, "closed end"),
        m(199, "10,\\!080", "There are 10080 arrangements.", 1, "thousands separator"),
        m(199, "10,\\!080", "There are 10,800 arrangements.", 0, "digits swapped"),
        m(229, "288 \\pi", "The volume is $288\\pi$ cubic units, about 904.78.", 1,
          "the exact answer; the approximation after it agrees"),
        m(243, "\\$32,\\!348", "She will have $\\$32{,}348$ after ten years.", 1, "money with braced comma"),
        m(243, "\\$32,\\!348", "She will have \\$32,348.00.", 1, "money with cents"),
        m(243, "\\$32,\\!348", "She will have \\$32,384.", 0, "digits swapped"),
        m(302, "5.4 \\text{ cents}", "The average is 5.4 cents.", 1, "unit word"),
        m(302, "5.4 \\text{ cents}", "The average is \\$0.054.", 0, "a grader does not convert units: "
          "0.054 dollars is written as a different number"),
        m(308, "(-\\infty, 0]", "The range is all $y \\le 0$.", 1, "interval as inequality"),
        m(359, "\\text{ellipse}", "This conic is an ellipse.", 1, "text answer"),
        m(359, "\\text{ellipse}", "This conic is a hyperbola.", 0, "another conic"),
        m(381, "(0,9) \\cup (9,36)", "$x \\in (0, 9) \\cup (9, 36)$", 1, "x in the union"),
        m(381, "(0,9) \\cup (9,36)", "$x \\in (0, 36)$", 0, "9 is excluded"),
        m(384, "x \\in [-2,7]", "The solution is $-2 \\le x \\le 7$.", 1, "interval as chain"),
        m(384, "x \\in [-2,7]", "The solution is $[-2, 7]$.", 1, "interval without the label"),
        m(399, "\\text{Navin}", "Comparing the hourly wages, the one who earns the most is Navin.", 1, "text answer"),
        m(399, "\\text{Navin}", "Comparing the hourly wages, the one who earns the most is Luka.", 0, "another person"),
        m(423, "\\{1\\pm\\sqrt{5},-2\\}", "The roots are $-2$, $1+\\sqrt5$ and $1-\\sqrt5$.", 1, "same set"),
        m(436, "(-\\infty, 2) \\cup (3, \\infty)", "$x < 2$ or $x > 3$", 1, "union as inequalities"),
        m(436, "(-\\infty, 2) \\cup (3, \\infty)", "$x \\le 2$ or $x > 3$", 0, "closed end"),
        m(455, "y = 2x + 3", "The line is $y=2x+3$.", 1, "same line"),
        m(455, "y = 2x + 3", "The line is $2x - y + 3 = 0$.", 1, "same line, other form"),
        m(455, "y = 2x + 3", "The line is $y = 3x + 2$.", 0, "another line"),
        m(493, "y = -2x", "So the equation is $y=-2x$.", 1, "same"),
        m(493, "y = -2x", "So the equation is $2x + y = 0$.", 1, "same line"),
        m(228, "\\text{(C)}", "Only option (C) satisfies all three conditions.", 1, "a choice letter"),
        m(228, "\\text{(C)}", "Options (A) and (B) fail, so the answer is (D).", 0, "the answer named is D"),
        m(256, "\\text{(E)}", "**Answer: (E)**", 1, "bold answer line"),
        m(297, "\\text{(B)}", "Thus the correct option is $\\textbf{(B)}$.", 1, "bold letter in math"),
        m(8, "90^\\circ", "The angle measures $\\frac{\\pi}{2}$ radians.", 0,
          "MATH asks for degrees; a radian value is a different number (a careful grader marks it wrong)"),
        m(8, "90^\\circ", "So the angle is $90$ degrees.", 1, "degrees word"),
        m(54, "-\\frac{\\pi}{6}", "Therefore $\\arcsin(-1/2) = -\\pi/6$.", 1, "a chain ending in the value"),
        m(54, "-\\frac{\\pi}{6}", "Therefore $\\arcsin(-1/2) = -0.5236$.", 1, "rounded to 4 places"),
        m(54, "-\\frac{\\pi}{6}", "Therefore $\\arcsin(-1/2) = \\pi/6$.", 0, "sign"),
        m(16, "6 - 5i", "The result is $6-5i$.", 1, "same"),
        m(16, "6 - 5i", "The result is $-5i + 6$.", 1, "order of terms"),
        m(16, "6 - 5i", "The result is $6+5i$.", 0, "conjugate"),
        m(218, "11,\\! 111,\\! 111,\\! 100", "The number is 11111111100.", 1, "thousands separators"),
        m(218, "11,\\! 111,\\! 111,\\! 100", "The number is 11111111110.", 0, "a digit differs"),
        m(344, "58,500", "It sold for $\\$58{,}500$.", 1, "money with braced comma"),
        m(344, "58,500", "It sold for 58.5 thousand dollars.", 0, "'thousand' written as a word is not parsed as "
          "a multiplier by graders; a careful human would accept, but we count it as a different written number "
          "only if the grader cannot read it: see reason"),
    ]
    # AIME: integers 0..999, phrased at the end of long reasoning
    c += [
        s(AIME.format(1), "204", "<think>\nlong reasoning ... maybe 240?\n</think>\nThe answer is $\\boxed{204}$.", 1,
          "think block, then a box"),
        s(AIME.format(1), "204", "<think>\nwe get 204 minutes\n</think>\nFinal answer: 240", 0,
          "the final statement wins over the reasoning"),
        s(AIME.format(2), "113", "So $AP = \\boxed{113}$.", 1, "a labeled box"),
        s(AIME.format(3), "371", "Hence $m+n = 371$.", 1, "a label that is a sum of variables"),
        s(AIME.format(3), "371", "Hence $m+n = 317$.", 0, "digits swapped"),
        s("AIME answer format (integers 0-999, three digits)", "25", "So $xy = \\boxed{025}$.", 1,
          "AIME three-digit form with a leading zero"),
    ]
    # "thousand" case above is ambiguous: drop it (kept out of the set)
    return [x for x in c if "thousand" not in x["pred"]]


def hand_cases():
    return rounding() + labels() + units_times_bases() + extraction() + phrasings()
