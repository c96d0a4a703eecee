"""A labelled corpus for the SMART verdict screen: texts that must be rejected, and re-check hints that must pass.

Each item is ``(text, category, language, split, origin)``:

* ``split``: ``"dev"`` items were written before and while the rules (``verl_score.teacher.verdicts``) were
  written and tuned. ``"heldout1"`` was written after rules v1 froze, without running the screen on it; v1 let 19 of
  its 75 must-reject texts through and rejected none of its 42 hints (the figure that counts for v1). Rules v2 were
  then extended from those misses, so heldout1 is no longer held out for v2. ``"heldout2"`` was written after v2
  froze, the same way, and is v2's held-out figure. The benchmark (``python -m benchmarks.verdict_screen``) reports
  each split separately; the tests hold dev to zero errors and allow on the held-out splits exactly the items in
  ``HELDOUT_KNOWN_MISSES``.
* ``origin``: ``"written"`` by hand, or ``"smollm2"`` -- real text from SmolLM2-135M-Instruct (the offline GGUF
  served by xllamacpp) acting as the SMART guide on GSM8K-style problems with a flawed attempt, labelled by hand.
  SmolLM2 mostly writes solutions or verdicts rather than hints (see docs/design.md), so most of its items are on the
  reject side; its few neutral replies are on the pass side.

The line between the two sides (module docstring of ``verl_score.teacher.verdicts``): a hint may point at a step, a
quantity or a check to perform; it may not say or imply that attempt 1, or any part of it, is right or wrong --
including praise, "almost", hedges, "there is an error in step 3", unconditional "fix X", and anything not in English
(the rule ``non_english``). "correct" as a verb passes when conditional ("correct the sign if needed").
"""

from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    text: str
    category: str
    lang: str = "en"
    split: str = "dev"
    origin: str = "written"


def _items(rows: list[tuple[str, str]] | list[tuple[str, str, str]], **kw: str) -> list[Item]:
    return [Item(*row, **kw) if len(row) == 2 else Item(row[0], row[1], row[2], **kw) for row in rows]


# ================================================================================================ must be rejected
REJECT_DEV: list[Item] = _items([
    # the examples
    ("Check again — your final total is wrong.", "recheck_then_verdict"),
    ("Step 3 contains an error.", "error_claim"),
    ("This is a wrong answer.", "explicit"),
    ("Looks good to me!", "praise"),
    # explicit verdicts, many frames
    ("Your answer is correct.", "explicit"),
    ("The final answer is not right.", "explicit"),
    ("That is incorrect.", "explicit"),
    ("Incorrect answer.", "explicit"),
    ("Wrong answer, please try again.", "explicit"),
    ("You got the wrong total.", "explicit"),
    ("This is the right answer.", "explicit"),
    ("Your result is accurate.", "explicit"),
    ("Your solution is flawed.", "explicit"),
    ("Your calculation is faulty.", "explicit"),
    ("The last step is erroneous.", "explicit"),
    ("You did everything right.", "explicit"),
    ("You solved it correctly.", "explicit"),
    ("You computed the area correctly.", "explicit"),
    ("You correctly identified the rate.", "explicit"),
    ("100% correct.", "explicit"),
    ("Right idea, wrong arithmetic.", "explicit"),
    ("Your answer doesn't match the expected result.", "comparison"),
    ("Your answer matches mine.", "comparison"),
    ("I got the same answer.", "comparison"),
    ("I got a different answer.", "comparison"),
    # a re-check instruction followed by a verdict (the old screen forgave these)
    ("Re-check your work: the result is incorrect.", "recheck_then_verdict"),
    ("Check again, your total is wrong.", "recheck_then_verdict"),
    ("Verify step 2; it is wrong.", "recheck_then_verdict"),
    ("Double-check the last line - the sum is incorrect.", "recheck_then_verdict"),
    ("Check whether you read the question carefully, because your answer is wrong.", "recheck_then_verdict"),
    ("Make sure you re-read step 2 (it is not correct).", "recheck_then_verdict"),
    ("Check your units. Everything else is correct.", "recheck_then_verdict"),
    ("I can confirm that your answer is correct.", "recheck_then_verdict"),
    # partial verdicts
    ("The computation in step 2 is correct, but step 3 is not.", "partial"),
    ("Steps 1 and 2 are fine.", "partial"),
    ("The first part of your solution is right.", "partial"),
    ("Your setup is correct; look at the arithmetic.", "partial"),
    ("Everything before step 3 is fine.", "partial"),
    ("The second case is handled properly.", "partial"),
    ("Your handling of the remainder is correct.", "partial"),
    ("Your total is off.", "partial"),
    ("The result is off by a factor of two.", "partial"),
    ("Your answer is slightly wrong.", "partial"),
    ("Your answer is a bit off.", "partial"),
    ("Your answer is too large.", "partial"),
    ("The total you found is too small.", "partial"),
    ("Your solution is incomplete.", "partial"),
    ("The second case is missing.", "partial"),
    ("Your result is inconsistent with the question.", "partial"),
    # errors claimed or located
    ("You made a mistake when you added the prices.", "error_claim"),
    ("There's a small slip in the multiplication.", "error_claim"),
    ("There is an error in your calculation of the area.", "error_claim"),
    ("Your solution has a flaw in step 2.", "error_claim"),
    ("An error occurs in step 3.", "error_claim"),
    ("The mistake is in the last line.", "error_claim"),
    ("Your only mistake is the unit conversion.", "error_claim"),
    ("Look for the error in step 3.", "error_claim"),
    ("Find the mistake in your subtraction.", "error_claim"),
    ("There might be an error in step 3.", "error_claim"),
    ("Your work is free of errors.", "error_claim"),
    ("The solution is error-free.", "error_claim"),
    # things going wrong / working
    ("Your reasoning breaks down in step 3.", "goes_wrong"),
    ("Your logic goes astray when you divide.", "goes_wrong"),
    ("Something went wrong in the second step.", "goes_wrong"),
    ("Step 2 is where things go wrong.", "goes_wrong"),
    ("This solution fails.", "goes_wrong"),
    ("Everything adds up.", "goes_wrong"),
    ("The arithmetic checks out.", "goes_wrong"),
    ("Your approach works.", "goes_wrong"),
    ("Your solution makes sense and is complete.", "goes_wrong"),
    # what the student did wrong
    ("You forgot to convert hours to minutes.", "student_slip"),
    ("You miscounted the number of days.", "student_slip"),
    ("You misread the question.", "student_slip"),
    ("You added instead of multiplying.", "student_slip"),
    ("You divided when you should have multiplied.", "student_slip"),
    ("You should have subtracted 7, not added it.", "student_slip"),
    ("Step 2 ignores the discount.", "student_slip"),
    # unconditional fixes (presuppose an error)
    ("Fix the sign error in step 3.", "fix_directive"),
    ("Correct the sign in step 3.", "fix_directive"),
    ("Change your final answer.", "fix_directive"),
    ("You need to revise your answer.", "fix_directive"),
    ("Your answer needs to be changed.", "fix_directive"),
    ("Step 3 needs fixing.", "fix_directive"),
    # near misses / progress
    ("You are almost there.", "near_miss"),
    ("Almost there!", "near_miss"),
    ("So close!", "near_miss"),
    ("You're close, but not quite.", "near_miss"),
    ("You are on the right track.", "near_miss"),
    ("Close, but check the units.", "near_miss"),
    ("Well, not exactly.", "near_miss"),
    # praise
    ("Good start, keep going.", "praise"),
    ("Nice work.", "praise"),
    ("Perfect!", "praise"),
    ("Great job, this is exactly it.", "praise"),
    ("Excellent reasoning.", "praise"),
    ("Well reasoned.", "praise"),
    ("Looks good.", "praise"),
    ("Seems fine to me.", "praise"),
    ("Your work is solid.", "praise"),
    ("Great!", "praise"),
    ("✔ all good", "praise"),
    ("Spot on.", "praise"),
    ("Good, but step 3 needs work.", "praise"),
    # hedged
    ("I think it may be right.", "hedge"),
    ("It's probably correct.", "hedge"),
    ("This might be incorrect.", "hedge"),
    ("I believe your answer is right.", "hedge"),
    ("I'm not sure this is right.", "hedge"),
    ("I suspect the second step is wrong.", "hedge"),
    ("Probably wrong.", "hedge"),
    ("Your answer could be wrong.", "hedge"),
    ("Your answer is reasonable.", "hedge"),
    ("The answer is plausible.", "hedge"),
    ("That total seems suspicious.", "hedge"),
    # leading questions, interjections, keep / try again
    ("Are you sure about that?", "leading"),
    ("Are you sure this is correct?", "leading"),
    ("Hmm, that doesn't look right.", "leading"),
    ("That can't be right.", "leading"),
    ("Nope.", "leading"),
    ("Yes, that's it.", "leading"),
    ("Try again.", "leading"),
    ("Give it another try.", "leading"),
    ("Don't change anything, it's fine.", "no_change"),
    ("No need to change anything.", "no_change"),
    ("Keep it as it is.", "no_change"),
    # other languages (rejected as non_english whatever they say)
    ("Votre réponse est fausse.", "non_english", "fr"),
    ("C'est correct.", "non_english", "fr"),
    ("Très bien, rien à changer.", "non_english", "fr"),
    ("Il y a une erreur à l'étape 3.", "non_english", "fr"),
    ("Vérifiez encore : le total est faux.", "non_english", "fr"),
    ("Deine Antwort ist falsch.", "non_english", "de"),
    ("Das ist richtig.", "non_english", "de"),
    ("Sehr gut gemacht!", "non_english", "de"),
    ("In Schritt 3 ist ein Fehler.", "non_english", "de"),
    ("Tu respuesta es incorrecta.", "non_english", "es"),
    ("¡Muy bien!", "non_english", "es"),
    ("Hay un error en el paso 3.", "non_english", "es"),
    ("La respuesta es correcta.", "non_english", "es"),
    ("你的答案是错误的。", "non_english", "zh"),
    ("答案正确。", "non_english", "zh"),
    ("La tua risposta è sbagliata.", "non_english", "it"),
    ("Sua resposta está errada.", "non_english", "pt"),
    ("Ваш ответ неверный.", "non_english", "ru"),
    ("答えは正しいです。", "non_english", "ja"),
    ("Re-check step 3. Votre réponse est fausse.", "non_english", "fr"),
    ("Vérifiez les unités à l'étape 2.", "non_english", "fr"),  # a hint, but not English: rejected by policy
    # found while probing the first version of the rules (dev)
    ("Your answer would be right if you hadn't forgotten the tax.", "explicit"),
    ("Your method is valid but the arithmetic is not.", "partial"),
    ("Not bad!", "praise"),
    ("Your work shows good understanding.", "praise"),
    ("Step 4 doesn't follow from step 3.", "partial"),
    ("Hint: the second step is the culprit.", "error_claim"),
    ("Double-check — I got 42.", "comparison"),
    ("Check whether 12 is the right value for the number of months, because it is not.", "recheck_then_verdict"),
    ("Is it really correct?", "leading"),
    ("Isn't the total wrong?", "leading"),
    ("Why is your answer wrong?", "leading"),
    ("Where did you go wrong?", "leading"),
    ("Nothing is missing.", "no_change"),
    ("Looks like you mixed up the rate.", "student_slip"),
])

#: real SmolLM2-135M guide replies (GUIDE_SYSTEM prompt, T=0.7) that judge the attempt; labelled by hand
REJECT_SMOLLM2: list[Item] = _items([
    ("This is a classic example of a logical fallacy, where the student has incorrectly applied the logical rule of "
     "\"A never equals B, so A is always B\" to the given scenario.", "explicit"),
    ("You can now examine the student's solution for themselves, and you want to know the reasonableness of this "
     "answer. It seems to match the given information.", "hedge"),
    ("The student's answer of 10 is slightly off from the original 2x = 14 problem.", "partial"),
    ("Yes.", "leading"),
    ("This is not an error in arithmetic, but it is a step that you may need to re-check.", "error_claim"),
    ("The student is correctly calculating the total number of clips sold by Natalia in April and May.", "explicit"),
    ("I've analyzed the student's solution. This is incorrect.", "explicit"),
    ("The student correctly calculated the sum of the interior angles of a hexagon.", "explicit"),
    ("You've successfully identified the correct answer.", "explicit"),
    ("I've already reviewed the student's solution and I've corrected it.", "fix_directive"),
    ("Sidenote: \"You have 8 more than 15, but you are missing the answer to the question.\"", "partial"),
    # second round (few-shot prompt)
    ("You just showed how to find the additional amount Betty needs. You just showed how to get 5 more, but the "
     "answer is actually 5 more.", "comparison"),
    ("This is a classic example of a lateral thinking puzzle. The solution is based on the concept of a time frame "
     "(50 minutes), but the actual answer is 600.", "comparison"),
], origin="smollm2")

# ================================================================================================ must pass
PASS_DEV: list[Item] = _items([
    # the examples of what guidance may say
    ("Re-check the sign in step 3.", "step_pointer"),
    ("Verify the units of the total.", "quantity"),
    ("Recompute 17×4 and compare.", "check_action"),
    ("Check whether the second case was considered.", "check_action"),
    # "correct" / "fix" as verbs, conditional or open-ended
    ("Correct the sign if needed.", "verb_correct"),
    ("Correct any arithmetic slips you find.", "verb_correct"),
    ("If a step does not follow from the previous one, correct it.", "verb_correct"),
    ("Correct the units if they don't match.", "verb_correct"),
    ("Fix the setup if it doesn't match the problem statement.", "verb_correct"),
    ("If you find an error in the subtraction, correct it and redo the rest.", "verb_correct"),
    ("Correct the computation where it disagrees with your recount.", "verb_correct"),
    # check complements that contain a verdict word
    ("Make sure you use the correct formula for the perimeter.", "embedded_check"),
    ("Check that you used the correct number of days in February.", "embedded_check"),
    ("Check whether your answer is reasonable given the size of the numbers.", "embedded_check"),
    ("Check whether speed, distance and time are combined in the right way.", "embedded_check"),
    ("Make sure the percentage is taken of the right amount.", "embedded_check"),
    ("Confirm that you read the number of friends correctly.", "embedded_check"),
    ("Verify whether each step follows from the previous one.", "embedded_check"),
    ("Check whether there is an error in how you convert the minutes.", "embedded_check"),
    ("Make sure the units are consistent throughout.", "embedded_check"),
    # plain questions
    ("Is the sign in step 3 correct?", "question"),
    ("Does your answer use the right units?", "question"),
    ("Is the total in the last line consistent with the numbers in the question?", "question"),
    ("Did you count the starting day?", "question"),
    ("What does the question ask for: the total or the difference?", "question"),
    ("How many hours are in the period described? Check that against your step 2.", "question"),
    # generic error talk
    ("Check for arithmetic errors in step 2.", "error_generic"),
    ("Look out for sign errors when you expand the brackets.", "error_generic"),
    ("Watch for rounding errors in the division.", "error_generic"),
    ("A common mistake here is to forget the return trip; check whether you included it.", "error_generic"),
    ("Check the percent error formula you used.", "error_generic"),
    # pointers and checks
    ("Re-read the question and make sure you answer what is asked.", "step_pointer"),
    ("Check how many pencils are in each box before adding.", "quantity"),
    ("Look at how you converted hours to minutes.", "step_pointer"),
    ("Recount the days between Monday and Friday.", "check_action"),
    ("Check whether the discount is applied to the original price or the reduced price.", "check_action"),
    ("Verify that the perimeter formula you used adds all four sides.", "check_action"),
    ("Make sure the rate is per hour, not per minute.", "quantity"),
    ("Re-derive the equation in step 2 from the problem statement.", "step_pointer"),
    ("Check the order of operations in the second line.", "step_pointer"),
    ("Substitute your value of x back into the original equation and see if both sides agree.", "check_action"),
    ("Plug your answer back into the problem to test it.", "check_action"),
    ("Estimate the result roughly and compare it with what you got.", "check_action"),
    ("Reconsider what 'half as many' refers to.", "quantity"),
    ("Check which quantity the question asks for at the end.", "quantity"),
    ("Go through step 3 again, one operation at a time.", "step_pointer"),
    ("Check the direction of the inequality after dividing by a negative number.", "check_action"),
    ("Verify that the fractions have a common denominator before adding.", "check_action"),
    ("Compare the number of weeks you used with the number of weeks in a year.", "quantity"),
    ("Check whether 'twice a week' is accounted for.", "check_action"),
    ("Re-examine how the percentage is applied to the price.", "step_pointer"),
    ("Look again at the right-hand side of the equation in step 2.", "step_pointer"),
    ("Check whether the triangle is a right triangle before using the Pythagorean theorem.", "check_action"),
    ("Recompute the sum in step 4 and compare it with your earlier value.", "check_action"),
    ("Check each multiplication in step 2 digit by digit.", "check_action"),
    ("Double-check the conversion from cents to dollars.", "quantity"),
    ("Re-check what you subtract in the final step.", "step_pointer"),
    ("Write out the units next to each number and check they match.", "check_action"),
    ("Think about what happens to the total when the discount is applied first.", "quantity"),
    ("Consider drawing a small table of the weeks and pages.", "check_action"),
    ("Check whether the remainder should be rounded up or down.", "check_action"),
    ("Try solving the problem a second way and compare the two results.", "check_action"),
    ("Explain to yourself why you multiply in step 2.", "step_pointer"),
    ("Check the value you carried from step 1 into step 2.", "quantity"),
    ("Trace the number of stickers after each event.", "quantity"),
    ("Re-check the formula for the interior angles of a polygon.", "step_pointer"),
    ("Verify that the answer has the units the question asks for.", "quantity"),
    ("Check that each step is justified.", "check_action"),
    ("Re-evaluate the expression in step 3 with the values substituted.", "step_pointer"),
    ("Read the last sentence of the problem again.", "step_pointer"),
    ("Compare the quantities in step 1 with those in the problem statement.", "quantity"),
    ("Check whether you should add or multiply the two amounts.", "check_action"),
    ("Before finishing, re-check that the answer is a whole number of pencils.", "quantity"),
    ("Verify the arithmetic in each line, especially the division.", "check_action"),
    ("Make sure every number you use appears in the problem or follows from it.", "check_action"),
    ("It is good practice to check each step against the problem statement.", "check_action"),
    ("A good way to verify the total is to add the parts back up.", "check_action"),
    ("Check whether 49 is a perfect square before taking the root.", "check_action"),
    ("Break down the total into the amounts from each day and check each one.", "check_action"),
    # found while probing the first version of the rules (dev): preambles and soft openers
    ("Sure! Here is my instruction: Re-check step 2.", "preamble"),
    ("Okay, re-check step 2.", "preamble"),
    ("Alright, let's re-check step 2.", "preamble"),
    ("I think you should re-check step 3.", "step_pointer"),
    ("You might want to revisit the multiplication in step 2.", "step_pointer"),
    ("Take another look at step 3.", "step_pointer"),
    ("Remember that a week has seven days.", "quantity"),
    ("Note that the discount applies only to the second item.", "quantity"),
    ('Pay attention to the word "each" in the question.', "quantity"),
    ("Think about whether the answer should be larger or smaller than the starting amount.", "check_action"),
    ("Be careful with the sign when you move terms across the equals sign.", "step_pointer"),
])

#: real SmolLM2-135M guide replies that judge nothing (neutral, if unhelpful); labelled by hand
PASS_SMOLLM2: list[Item] = _items([
    ("Do you want the student to find the number of clips sold in April and May?", "question"),
    ("What do you intend to do next? Please go ahead and present your solution, and I will then help you "
     "re-evaluate the situation.", "question"),
    # first labelled a hedge; on review it comments on difficulty, not on correctness
    ("This doesn't seem to be a straightforward calculation.", "comment"),
    # second round: two few-shot turns in the guide prompt (T=0.7, 48 tokens)
    ("Find the total distance traveled.", "step_pointer"),
    ("Calculate how much of the total 144 clips were sold.", "quantity"),
    ("Express the hexagon's interior angles using the formula (n-2) * 180 degrees, where n is the number of sides.",
     "check_action"),
    ("This is a classic example of a simple algebraic equation with a variable.", "comment"),
    ("This is a classic example of a math puzzle that requires careful interpretation of the information given.",
     "comment"),
    ("Solve the equation for x by dividing both sides by 2.", "check_action"),
    ("Calculate which operation is a multiple of the given value.", "check_action"),
], origin="smollm2")

# ================================================================================================ held-out
# heldout1: written after rules v1 froze (commit "SMART verdict screen that holds ..."), without running the screen on
# them while writing. v1: 56/75 rejected, 0/42 hints rejected. Rules v2 were extended from its 19 misses.
REJECT_HELDOUT1: list[Item] = _items([
    ("Your final answer of 624 pages is right on the money.", "explicit"),
    ("Nicely reasoned, and the arithmetic holds together.", "praise"),
    ("The approach you took is the correct one.", "explicit"),
    ("Everything up to the last line is accurate; only the final subtraction slips.", "partial"),
    ("Step 2 has a computational slip.", "error_claim"),
    ("Unfortunately, the result you reached isn't what the problem is looking for.", "explicit"),
    ("The multiplication in step 2 was done wrong.", "partial"),
    ("Your conversion is the weak point of this solution.", "error_claim"),
    ("This checks out — nothing to change.", "no_change"),
    ("I'd keep the answer you have.", "no_change"),
    ("You're nearly done; just fix the units.", "near_miss"),
    ("Your total overshoots by a bit.", "partial"),
    ("The value you found for x is a little high.", "partial"),
    ("You misapplied the discount.", "student_slip"),
    ("Your second step is a misstep.", "error_claim"),
    ("That part is flawless, but the rest needs another pass.", "partial"),
    ("The reasoning holds, good.", "praise"),
    ("This is the expected result.", "comparison"),
    ("Your answer agrees with the problem's constraints and is correct.", "explicit"),
    ("The solution is right apart from a rounding issue.", "partial"),
    ("Hmm, I'm not convinced by step 3.", "hedge"),
    ("Step 3 looks dodgy.", "hedge"),
    ("Step 3 is suspect.", "hedge"),
    ("The sign in step 3 is flipped.", "partial"),
    ("You've double counted the first day.", "student_slip"),
    ("You counted the first day twice.", "student_slip"),
    ("Your calculation of the area went off the rails in the second line.", "goes_wrong"),
    ("Good news: the answer stands.", "praise"),
    ("Fantastic, you solved it!", "praise"),
    ("Way to go!", "praise"),
    ("You nailed the setup but botched the arithmetic.", "partial"),
    ("The answer should have been larger.", "partial"),
    ("It's likely that your total is too low.", "hedge"),
    ("Chances are the answer is fine.", "hedge"),
    ("Your answer is probably off by a factor of ten.", "hedge"),
    ("I would not trust the final number.", "hedge"),
    ("There seems to be a discrepancy in step 2.", "error_claim"),
    ("The final figure doesn't look plausible.", "hedge"),
    ("The arithmetic is sloppy in step 2.", "partial"),
    ("Nothing wrong here.", "no_change"),
    ("All steps are valid.", "explicit"),
    ("Your answer: correct.", "explicit"),
    ("Verdict: incorrect.", "explicit"),
    ("Status: wrong answer.", "explicit"),
    ("Your answer deserves full credit.", "praise"),
    ("This would get full marks.", "praise"),
    ("You've got it!", "praise"),
    ("Bang on.", "praise"),
    ("Check step 3 once more; the product there is wrong.", "recheck_then_verdict"),
    ("Recompute step 2 — you made an arithmetic slip.", "recheck_then_verdict"),
    ("Recheck the conversion: 50 minutes is not 50 hours.", "recheck_then_verdict"),
    ("Compare your answer with 52 weeks in a year; you used 12.", "student_slip"),
    ("Looks right to me.", "praise"),
    ("Seems legit.", "praise"),
    ("Your answer is in the right ballpark.", "near_miss"),
    ("Your reasoning is airtight.", "praise"),
    ("Mostly fine, but look at step 4.", "partial"),
    ("Ta réponse est juste.", "non_english", "fr"),
    ("Bravo, c'est exact !", "non_english", "fr"),
    ("Juste.", "non_english", "fr"),
    ("Die Rechnung in Schritt 2 stimmt nicht.", "non_english", "de"),
    ("Alles korrekt, gut gemacht.", "non_english", "de"),
    ("Richtig!", "non_english", "de"),
    ("Überprüfe die Einheiten.", "non_english", "de"),
    ("Tu solución es correcta, no cambies nada.", "non_english", "es"),
    ("Casi lo tienes.", "non_english", "es"),
    ("Correcto.", "non_english", "es"),
    ("Revisa el paso 3.", "non_english", "es"),
    ("步骤三有错误。", "non_english", "zh"),
    ("做得很好！", "non_english", "zh"),
    ("La risposta è corretta.", "non_english", "it"),
    ("Het antwoord klopt niet.", "non_english", "nl"),
    ("Resposta certa!", "non_english", "pt"),
    ("정답입니다.", "non_english", "ko"),
    ("Неправильно.", "non_english", "ru"),
], split="heldout1")
PASS_HELDOUT1: list[Item] = _items([
    ("Re-read the sentence about how many pages he writes per letter.", "step_pointer"),
    ("Check how the number of weeks in a year enters your calculation.", "quantity"),
    ("Trace what happens to the 7 pencils that are given away.", "quantity"),
    ("Verify whether 50 minutes should be expressed in hours before multiplying by the hourly rate.", "check_action"),
    ("Make sure you distinguish between the length of one side and the perimeter.", "quantity"),
    ("Confirm that the sale price is computed from the original price.", "check_action"),
    ("Look at whether the discount reduces or increases the price.", "check_action"),
    ("Check the relationship between speed, distance and time you used in step 1.", "step_pointer"),
    ("Consider whether each friend receives a letter on both weekly occasions.", "check_action"),
    ("Go back to the question and underline the quantity it asks for.", "quantity"),
    ("Double-check whether the grandparents' contribution depends on the parents' amount.", "check_action"),
    ("Re-check the operation you use to combine the hours with the minutes per hour.", "step_pointer"),
    ("Ask yourself whether the result has the right units.", "embedded_check"),
    ("Is the value in step 2 in dollars or in cents?", "question"),
    ("Do the numbers in your last line come from the problem statement?", "question"),
    ("Did you use all the information given in the problem?", "question"),
    ("Are all three boxes included in your count?", "question"),
    ("Check whether the interior angle formula applies to all polygons.", "check_action"),
    ("Re-derive the number of clips sold in May from the phrase 'half as many'.", "quantity"),
    ("Work through step 2 slowly and write down each intermediate value.", "step_pointer"),
    ("Try estimating the answer first, then see whether your result is in that range.", "check_action"),
    ("Correct any step where the units do not match.", "verb_correct"),
    ("If the check in step 3 fails, correct the computation before moving on.", "verb_correct"),
    ("Look for possible errors in the way the fractions are added.", "error_generic"),
    ("Watch out for off-by-one errors when counting the days.", "error_generic"),
    ("Check for typos in the numbers you copied from the question.", "error_generic"),
    ("Make sure the answer is expressed in the units the question asks for.", "embedded_check"),
    ("Verify that 2.5 hours is used consistently throughout.", "quantity"),
    ("Check whether the answer you gave is the final total or an intermediate value.", "embedded_check"),
    ("Consider what the phrase 'twice as much as her parents' refers to.", "quantity"),
    ("Recompute the area of each rectangle and compare the sum with your total.", "check_action"),
    ("Check that the order of operations in your expression matches the story.", "check_action"),
    ("Review how you handled the remainder when dividing.", "step_pointer"),
    ("Think about how many times the event happens per week.", "quantity"),
    ("Before you finalize, plug your value of x into the equation.", "check_action"),
    ("Re-examine which numbers are added and which are multiplied.", "step_pointer"),
    ("Make sure the percentage is converted to a decimal correctly.", "embedded_check"),
    ("Check whether a right angle is involved in the figure.", "check_action"),
    ("Look at the right-hand column of your table again.", "step_pointer"),
    ("Revisit the step where you compute the sale price.", "step_pointer"),
    ("Check your final step against the original question.", "step_pointer"),
    ("Focus on the second sentence of the problem.", "step_pointer"),
], split="heldout1")

# heldout2: written after rules v2 froze, the same way; filled in below
REJECT_HELDOUT2: list[Item] = []
PASS_HELDOUT2: list[Item] = []
#: held-out items the frozen rules get wrong, listed exactly (tests assert these and only these fail)
HELDOUT_KNOWN_MISSES: frozenset[str] = frozenset({
    # heldout1 under rules v1 missed 19 (words and frames no rule had: judging verbs "overshoots", "misapplied",
    # "botched", "counted ... twice"; adjectives "dodgy", "suspect", "flipped", "a little high"; error nouns
    # "misstep", "discrepancy"; praise idioms "Way to go", "Bang on", "full credit", "You've got it", "the answer
    # stands"; "I would not trust"; corrections stated as facts "50 minutes is not 50 hours"). v2 covers all but:
    "Compare your answer with 52 weeks in a year; you used 12.",  # a contrast only the context makes a verdict
})

REJECT: list[Item] = REJECT_DEV + REJECT_SMOLLM2 + REJECT_HELDOUT1 + REJECT_HELDOUT2
PASS: list[Item] = PASS_DEV + PASS_SMOLLM2 + PASS_HELDOUT1 + PASS_HELDOUT2
