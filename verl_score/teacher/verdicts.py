"""The verdict screen: SMART guidance may point at what to re-check, never say whether attempt 1 is right.

Why: SCoRe measures *intrinsic* self-correction. A hint that says or implies "your answer is wrong" (or "right", or
"almost", or "step 3 has an error") is an oracle bit: attempt 2 learns to keep or change its answer on the guide's
word, and SMART-SCoRe quietly becomes training with a verifier (notes/score-methods.md §2).

**What guidance MAY say** -- a place, a quantity or a check to perform, without a judgement of it:
"Re-check the sign in step 3.", "Verify the units of the total.", "Recompute 17×4 and compare.", "Check whether the
second case was considered.", "Make sure the rate is per hour.", "Is the sign in step 3 correct?", "Correct the sign
if needed.", "Look for rounding errors in the division.", "A common mistake is to forget the return trip; check
whether you included it."

**What it may NOT say** (each a rule below; the rule name goes into ``LeakVerdict.detail``):

* a verdict on the attempt or any part of it, in any frame: "Your answer is correct", "This is a wrong answer",
  "Step 2 is fine", "The total is off", "slightly wrong", "too large", "You solved it correctly", "Right idea,
  wrong arithmetic" (``verdict_word``, ``predicate``, ``size_judgement``, ``swap_claim``, ``numeric_correction``);
* **any statement about the attempt** -- a clause whose subject is the student or their work ("you", "your ...",
  "the earlier calculations", "step 2", "everything", "the rest") -- unless it only describes what the attempt does
  ("In step 2 you multiply the price by the quantity", "Steps 1 and 2 set up the equation", "Step 2 is where the
  rate enters") or gives advice ("You might want to revisit step 2", "Your next step is to ..."). This is the rule
  that does not depend on vocabulary: "You're on solid ground until step 3", "Everything is in good shape", "Your
  answer does not take the tax into account", "The second case was left out" judge without a single verdict word
  (``attempt_assertion``). A hint points and asks; it does not report on the attempt;
* that an error exists, or where: "Step 3 contains an error", "There might be a mistake in step 3", "Look for the
  mistake", "without errors", "error-free" (``error_claim``); that something goes wrong / works / adds up
  (``goes_wrong``, ``it_works``); what the student did wrong: "You forgot the tax", "You added instead of
  multiplying", "You should have subtracted" (``student_slip``, ``should_have``, ``needs_fixing``);
* an unconditional order to fix something ("Fix the sign in step 3", "Correct the total", "Change your answer"):
  it presupposes the thing is wrong (``fix_directive``). **"correct" as a verb** passes only when conditional or
  open-ended: "correct the sign if needed", "correct any slips you find", "if a step does not follow, correct it";
* nearness and progress: "almost there", "on the right track", "so close", "getting there" (``near_miss``);
* praise or interjections: "Looks good", "Nice work", "Perfect!", "Well done", "Correct!", "Nope", "Hmm,", ✓
  (``praise``, ``interjection``, ``symbol``);
* hedged verdicts: "I think it may be right", "probably correct", "might be incorrect", "I'm not sure this is
  right", "I suspect step 2" -- hedging does not remove the bit (``predicate``, ``opinion``);
* leading questions and comparisons: "Are you sure?", "Try again", "I got a different answer", "matches the
  expected result" (``are_you_sure``, ``try_again``, ``comparison``); "no changes needed", "keep your answer"
  (``no_change``).

**Where a verdict word is allowed** (a *license*), and only there:

1. inside a re-check complement -- after ``whether`` / ``if``, after ``make sure`` / ``ensure`` / ``be sure``, or
   after a check verb followed by ``that`` ("check that", "verify that", "confirm again that") -- as long as nothing
   between the opener and the word ends the clause: a comma, colon, semicolon, dash or bracket, a conjunction that
   starts a new clause ("because", "but", "so", "and it" ...), or a factive "notice that" / "know that". So
   "Check whether the sign is correct." passes and "Check again — your final total is wrong." or "Re-check step 3,
   it is wrong." do not: **a verdict anywhere in the text rejects it; a re-check word elsewhere forgives nothing.**
   A bare "check the total is right" (no "that") is not a license: it reads exactly like "check again your total is
   wrong".
2. in a plain yes/no question whose clause starts with is / are / was / were / do / does / did / has / have / had /
   can / will: "Is the sign in step 3 correct?", "Did you use the right units?". Not "Are you sure ...?", not
   negative questions ("Isn't it wrong?"), not modal ones ("Could step 3 be wrong?" suggests it is), not with
   "really" / "actually".
3. a few fixed senses that are not verdicts: "right angle / triangle / side / -hand / after", "perfect square",
   "percent error", "margin of error", "a good idea to ...", "it is fine to ...", generic error talk -- "check for
   arithmetic errors", "any errors", "possible / common mistakes".

Some rules are never licensed (praise, interjections, "are you sure", "try again", "no changes", near-misses,
first-person comparisons): no re-check frame makes them neutral.

The rules are written to fail safe: a rejected hint costs one turn of the static instruction (counted); an accepted
verdict costs the method its meaning. The measured rates (verdicts rejected, genuine hints wrongly rejected) on a
corpus with a held-out split are printed by ``python -m benchmarks.verdict_screen``. Text that is not English is
screened earlier (``verl_score.teacher.language``), and an optional classifier call
(``verl_score.teacher.verdict_classifier``) is a second pass for phrasings no rule anticipates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

__all__ = ["VerdictHit", "find_verdict", "recheck_licensed"]

_I = re.IGNORECASE


@dataclass(frozen=True)
class VerdictHit:
    """The rule that fired and the text around it."""

    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.excerpt}"


# ------------------------------------------------------------------------------------------------ vocabulary
#: evaluative words that judge wherever they stand (unless licensed)
_WORD = (
    r"(?:correct(?:ly)?|incorrect(?:ly)?|wrong(?:ly)?|right(?:ly)?|accurate(?:ly)?|inaccurate(?:ly)?|valid(?:ly)?|"
    r"invalid|flawless(?:ly)?|flawed|faulty|erroneous(?:ly)?|mistaken(?:ly)?|impeccabl[ey]|faultless(?:ly)?|"
    r"error[- ]free|mistake[- ]free|spot[- ]on|perfect(?:ly)?|properly|improperly|astray|amiss|awry|off[- ]track|"
    r"on[- ]track|nicely|poorly|badly|successfully|unsuccessfully|botched|bungled|flubbed)"
)
#: words that judge only as a predicate ("is fine", "looks good", "seems off") or after a hedge ("pretty close")
_PRED = (
    r"(?:fine|good|great|nice|excellent|ok(?:ay)?|alright|all\s+right|sound|solid|reasonable|unreasonable|"
    r"plausible|implausible|sensible|suspicious|questionable|dubious|fishy|strange|weird|off|close|consistent|"
    r"inconsistent|complete|incomplete|missing|true|false|exact|precise|imprecise|legit(?:imate)?|airtight|"
    r"rigorous|careless|sloppy|bad|terrible|awful|acceptable|unacceptable|satisfactory|unsatisfactory|"
    r"successful|unsuccessful|in\s+order|as\s+expected|on\s+point|on\s+target|off\s+target|dodgy|suspect|"
    r"shaky|iffy|backwards|garbled|muddled|botched|messed\s+up|mixed\s+up|misplaced|misapplied|overstated|"
    r"understated|bogus|buggy|unjustified|unsupported|unwarranted|"
    r"(?:(?:way|much|a\s+bit|slightly|far)\s+)?too\s+(?:large|big|small|high|low|much|many|few|little|short|long))"
)
_COPULA = (
    r"(?:is|are|was|were|be|been|being|['’]s|['’]re|isn['’]t|aren['’]t|wasn['’]t|weren['’]t|ain['’]t|seems?|seemed|"
    r"looks?|looked|appears?|appeared|sounds?|sounded|reads?|feels?|felt|remains?|stays?|becomes?|became|"
    r"turns?\s+out|turned\s+out|comes?\s+out|came\s+out|ends?\s+up|ended\s+up|gets?|got|holds?|held)"
)
_ADVERB = (
    r"(?:not|n['’]t|all|quite|entirely|completely|totally|absolutely|perfectly|fully|mostly|largely|partly|"
    r"partially|essentially|basically|clearly|definitely|certainly|surely|indeed|already|still|so|very|really|"
    r"pretty|fairly|rather|somewhat|slightly|a\s+(?:little\s+)?(?:bit|tad)|a\s+little|way|just|almost|nearly|"
    r"probably|likely|possibly|maybe|perhaps|also|generally|overall|more\s+or\s+less|kind\s+of|sort\s+of|to\s+me|"
    r"to\s+be|reasonably|actually|obviously|seemingly|apparently|mainly|otherwise)"
)
_HEDGE = (
    r"(?:probably|likely|possibly|almost|nearly|mostly|largely|partly|partially|slightly|somewhat|a\s+bit|a\s+little|"
    r"pretty|very|quite|not\s+quite|not\s+entirely|not\s+exactly|definitely|certainly|totally|completely|"
    r"absolutely|perfectly|seemingly|apparently|basically|essentially)"
)
_ERR_NOUN = (
    r"(?:errors?|mistakes?|slips?|flaws?|bugs?|miscalculations?|miscounts?|typos?|blunders?|oversights?|"
    r"inaccurac(?:y|ies)|issues?|faults?|fallac(?:y|ies)|misconceptions?|misunderstandings?|misreadings?|"
    r"culprits?|weak\s+(?:points?|spots?|links?)|missteps?|discrepanc(?:y|ies)|glitch(?:es)?|hiccups?|snags?|"
    r"slip-ups?|gaffes?|goofs?|lapses?|"
    r"problems?(?=\s+(?:with|in)\s+(?:your|the\s+(?:\w+\s+)?step|step|it|this|that)))"
)
#: determiners that make an error noun a claim ("an error", "the mistake", "no errors", "your slip")
_ERR_CLAIM_DET = frozenset(
    "a an the your this that these those one no some several two three few many his her its their my our another "
    "each every only main first second third last big major minor small slight tiny subtle clear obvious critical "
    "serious real single".split()
)
_ERR_GENERIC = frozenset("any possible potential common typical usual frequent".split())
_ERR_FOR = frozenset("for against avoid about like prevent catch spot".split())
_ERR_COMPOUND = re.compile(
    r"(?:percent(?:age)?|relative|absolute|standard|rounding\s+and\s+measurement|type\s+i+|squared)\s+$|"
    r"margin\s+of\s+$|trial\s+and\s+$",
    _I,
)
_ERR_COMPOUND_AFTER = re.compile(r"\s*(?:term|bound|bars?|function|message|messages|handling|code|codes|"
                                 r"propagation|analysis|estimate|rate)\b", _I)

#: "right" / "perfect" / "correct" in senses that are not verdicts
_RIGHT_IDIOM_AFTER = re.compile(
    r"[- ]?(?:hand|angled?|angles|triangles?|sides?|corner|columns?|edge|ends?|endpoints?|parenthes[ie]s|brackets?|"
    r"prism|cylinder|cone|circular|most|turns?|after|before|away|now|here|there|below|above|next|half|part|bound)\b",
    _I,
)
_PERFECT_IDIOM_AFTER = re.compile(r"\s+(?:squares?|cubes?|powers?|numbers?|shuffles?|information|competition)\b", _I)

#: an order to change something: presupposes it is wrong unless conditional ("... if needed") or open ("any slips")
_FIX = re.compile(
    r"(?:^|[.!?;:—–\n(]\s*|,\s*|\b(?:please|then|and|so|now|just|simply|first|to|should|must|need\s+to|"
    r"needs\s+to|have\s+to|has\s+to|ought\s+to|you)\s+)"
    r"(?P<verb>fix|correct|change|revise|amend|repair|adjust|modify|replace|rectify|undo)\s+"
    r"(?P<obj>the|your|it|them|this|that|these|those|any|anything|all|each|every|what|whatever|whichever|my|his|"
    r"her|their|its|a|an|step|line|sign|units?|total|sum|answer|result|value|calculation|computation|"
    r"arithmetic|equation|formula|\d+)\b",
    _I,
)

#: a statement whose subject is the student or their work ("Your answer does not ...", "The earlier calculations
#: hold up", "You're on solid ground", "Everything is in place"): a hint points and asks, it does not assess.
_ATTEMPT_NOUN = (
    r"(?:answers?|results?|solutions?|calculations?|computations?|reasoning|work(?:ing)?|approach|method|set-?up|"
    r"logic|conversions?|arithmetic|derivation|argument|attempt|steps?|lines?|parts?|cases?|totals?|sums?|"
    r"products?|subtraction|addition|multiplication|division|estimate|count|figures?|expression|equations?|"
    r"formula|explanation|algebra|simplification|substitution|units?\s+conversion)"
)
_ASSERTION = re.compile(
    r"(?:^|(?<=[.!?])\s+|\n|[;:—–]\s*|\s-\s|,\s*(?:but|and|so|yet|though)\s+)\s*"
    r"(?:(?:however|also|overall|so\s+far|now|here|then|still|otherwise|unfortunately|fortunately|luckily|honestly|"
    r"clearly|nearly|almost|mostly|basically|generally|in\s+(?:general|short|summary|step\s+\d+|the\s+\w+\s+step|"
    r"this\s+case)|at\s+(?:first|this\s+point)|up\s+to\s+(?:here|step\s+\d+|this\s+point)|until\s+step\s+\d+|"
    r"but|and|so|yet|well)\b,?\s+)*"
    r"(?P<subj>you(?:['’](?:re|ve|d|ll))?|your(?:\s+[\w'-]+){1,3}?|the\s+student(?:['’]s)?|"
    r"(?:the|this|that|these|those|all\s+the|both)\s+(?:[\w'-]+\s+){0,3}?" + _ATTEMPT_NOUN + r"|"
    r"steps?\s+\d+(?:\s*(?:-|–|and|to|through)\s*\d+)?|everything|something|nothing|the\s+rest)"
    r"(?:['’]s)?\s+(?P<verb>[\w'’-]+)",
    _I,
)
_ADVISORY = re.compile(
    r"(?:might|may|could|can|should|will|would|need|needs|want|wants|have\s+to|must|ll|d|better)\b(?!\s+have\b)", _I)
#: what may follow a "your ..." subject without it being an assessment: "your goal is to", "your next step is to"
_YOUR_TASK = re.compile(r"\s*(?:goal|task|job|aim|next\s+step|first\s+step)\s+(?:is|will\s+be)\s+to\b", _I)
#: describing what the attempt does is pointing, not judging: "In step 2 you multiply the price by the quantity",
#: "Steps 1 and 2 set up the equation", "Step 2 is where the rate enters", "Both cases need to be considered"
_NEUTRAL_ACTION = re.compile(
    r"(?:set(?:s)?\s+up|multipl(?:y|ies|ied)|add(?:s|ed)?|divide[sd]?|subtract(?:s|ed)?|use[sd]?|compute[sd]?|"
    r"calculate[sd]?|convert(?:s|ed)?|count(?:s|ed)?|combine[sd]?|start(?:s|ed)?|introduce[sd]?|define[sd]?|"
    r"write[s]?|wrote|express(?:es|ed)?|rewrite[s]?|rewrote|simplif(?:y|ies|ied)|substitute[sd]?|expand(?:s|ed)?|"
    r"factor(?:s|ed)?|solve[sd]?|turn(?:s|ed)?|move[sd]?|round(?:s|ed)?|list(?:s|ed)?|depends?|refers?|"
    r"(?:is|was)\s+(?:where|when)|(?:needs?|has|have)\s+to\s+be|(?:should|must|will\s+need\s+to)\s+be)\b"
    r"(?!\s+(?:twice|instead|wrongly|incorrectly|correctly|right|wrong|fixed|corrected|changed|redone|revised|larger|"
    r"smaller|bigger|higher|lower|\d))",
    _I,
)
_NOT_A_VERB = frozenset(
    "of in on at for from to by with between after before under over into and or as than that which who when where "
    "if whether because since".split())


def _assertion_exempt(tx: _Text, m: re.Match[str]) -> bool:
    subj, verb = m.group("subj").lower(), m.group("verb").lower().replace("’", "'")
    if _NEUTRAL_ACTION.match(tx.t, m.start("verb")) and subj not in ("you're", "you'd", "you'll"):
        return True  # a description or a what-to-consider; the judging rules still see the rest of the clause
    if subj.startswith("you") and not subj.startswith("your"):
        rest = tx.t[m.start("verb") :]
        if subj in ("you'll", "you'd") or _ADVISORY.match(rest):
            return True  # "You might want to revisit ...", "You can check this by ...": advice, not assessment
        return False
    if subj.startswith("your") and _YOUR_TASK.match(tx.t, m.start("subj") + 4):
        return True
    if verb in _NOT_A_VERB:
        return True  # "the answer in step 3 ..." is only an NP so far; other rules judge the rest
    return False


# ------------------------------------------------------------------------------------------------ licenses
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])(?=\s|$)|\n")
_CLAUSE_BREAK = re.compile(r"[:;—–]|\s-\s|--")
_OPENER = re.compile(
    r"\b(?:whether|if)\b|\b(?:make|be|making)\s+(?:very\s+)?sure\b|\bensur(?:e|ing)\b|"
    r"\b(?:check|verify|confirm|test|determine|establish|double[- ]check|re-?check|recheck|examine|re-?examine|"
    r"assess|evaluate|investigate|re-?verify)\b"
    r"(?:\s+[\w'-]+){0,3}?\s+that\b",
    _I,
)
_GAP_BREAK = re.compile(
    r"[,;:()\[\]—–]|\s-\s|--|"
    r"\b(?:because|since|so|but|though|although|yet|however|therefore|thus|hence|while|whereas|then|which|"
    r"and\s+(?:it|this|that|you|yours?)|or\s+(?:it|this|that)|as\s+(?:it|this|that|your)|"
    r"(?:notice|noticed|realize|realise|realized|realised|note|noted|know|knew|see|saw|remember|recognize|"
    r"recognise|understand|found|agree|admit|admitted|believe|think|suspect)\s+that)\b",
    _I,
)
_LIST_COMMA = re.compile(r"\s*(?!and\b|or\b)[\w'-]+(?:\s+[\w'-]+)?\s*(?:,|\b(?:and|or)\b)", _I)
_FIRST_PERSON = re.compile(r"\bI(?:['’](?:ve|d|ll|m))?\b|\b(?i:we|me)\b")  # case-sensitive I: "for i in ..." is not
_QUESTION_START = re.compile(
    r"^\W*(?:(?:so|and|but|now|then|also|first|next|finally|here)\b,?\s+)?"
    r"(?:is|are|was|were|does|do|did|has|have|had|can|will)\b(?!n['’]t)(?!\s+not\b)",
    _I,
)
_QUESTION_DOUBT = re.compile(
    r"\b(?:really|actually|truly|honestly|seriously)\b|\byou\s+(?:sure|certain|positive)\b", _I)
_CONDITION = re.compile(
    r"\b(?:if|unless|whether|where|wherever|when|whenever|in\s+case|otherwise|as\s+(?:needed|necessary|required|"
    r"appropriate)|should\s+(?:it|you|they|any|there|one))\b",
    _I,
)


class _Text:
    """The hint with its sentence boundaries, for the license checks."""

    def __init__(self, text: str):
        self.t = text
        bounds = [0] + [m.end() for m in _SENTENCE_BREAK.finditer(text)] + [len(text)]
        self.bounds = sorted(set(bounds))

    def sentence(self, pos: int) -> tuple[int, int]:
        start = 0
        for b in self.bounds:
            if b <= pos:
                start = b
            else:
                return start, b
        return start, len(self.t)

    def clause_start(self, pos: int) -> int:
        s, _ = self.sentence(pos)
        last = s
        for m in _CLAUSE_BREAK.finditer(self.t, s, pos):
            last = m.end()
        return last

    def in_recheck_scope(self, pos: int) -> bool:
        """License 1: ``pos`` sits in a whether/if/make-sure/check-that complement that nothing has closed."""
        s, _ = self.sentence(pos)
        last = None
        for m in _OPENER.finditer(self.t, s, pos):
            last = m
        if last is None or _FIRST_PERSON.search(self.t, max(s, last.start() - 24), last.start()):
            return False  # "I can confirm that ...", "I wonder whether ...": the guide's own judgement
        gap = self.t[last.end() : pos]
        if len(gap) > 90:
            return False
        for b in _GAP_BREAK.finditer(gap):
            if b.group(0) == "," and _LIST_COMMA.match(gap, b.end()):
                continue  # "whether speed, distance and time are ...": a list, not a new clause
            return False
        return True

    def in_plain_question(self, pos: int) -> bool:
        """License 2: ``pos`` is in a yes/no question clause opened by a plain auxiliary."""
        s, e = self.sentence(pos)
        sentence = self.t[s:e].rstrip()
        if not sentence.endswith("?") or _QUESTION_DOUBT.search(sentence):
            return False
        clause = self.t[self.clause_start(pos) : e]
        return bool(_QUESTION_START.match(clause))

    def licensed(self, pos: int) -> bool:
        return self.in_recheck_scope(pos) or self.in_plain_question(pos)

    def condition_in_sentence(self, pos: int) -> bool:
        s, e = self.sentence(pos)
        return bool(_CONDITION.search(self.t, s, e))

    def words_before(self, pos: int, n: int = 3) -> list[str]:
        s, _ = self.sentence(pos)
        chunk = self.t[max(s, pos - 60) : pos]
        chunk = chunk[max(chunk.rfind(c) for c in ",;:()—–") + 1 :]
        return [w.lower() for w in re.findall(r"[\w'’-]+", chunk)][-n:]


# ------------------------------------------------------------------------------------------------ rules
@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    licensable: bool = True
    #: extra check per match: True = this match is not a verdict (an idiom, a conditional fix, generic error talk)
    exempt: Callable[[_Text, re.Match[str]], bool] | None = None


def _word_exempt(tx: _Text, m: re.Match[str]) -> bool:
    word = m.group(0).lower()
    after = tx.t[m.end() : m.end() + 40]
    before = tx.t[max(0, m.start() - 30) : m.start()]
    if word == "right" and (_RIGHT_IDIOM_AFTER.match(after) or re.search(r"(?:to|on|at|from)\s+the\s+(?:far\s+)?$",
                                                                          before, _I)):
        return True
    if word == "perfect" and _PERFECT_IDIOM_AFTER.match(after):
        return True
    if word == "correct" and any(f.start("verb") == m.start() for f in _FIX.finditer(tx.t, max(0, m.start() - 30))):
        return True  # the verb ("correct the sign if needed"): ``fix_directive`` decides
    return False


def _pred_exempt(tx: _Text, m: re.Match[str]) -> bool:
    # "it is good practice to", "it's fine to round at the end", "is close to" stays a verdict
    after = tx.t[m.end() : m.end() + 30]
    word = (m.group("w") or m.group("h") or "").lower()
    if word in ("good", "great", "fine", "ok", "okay", "nice", "alright", "sensible", "reasonable", "acceptable"):
        return bool(re.match(r"\s+(?:idea|practice|habit|way|strategy|approach|place|time|point|rule|"
                             r"to\s+(?!me\b|us\b|go\b)|for\s+"
                             r"(?:checking|verifying|catching))", after, _I))
    return False


def _error_exempt(tx: _Text, m: re.Match[str]) -> bool:
    before_text = tx.t[max(0, m.start() - 40) : m.start()]
    if _ERR_COMPOUND.search(before_text) or _ERR_COMPOUND_AFTER.match(tx.t[m.end() : m.end() + 20]):
        return True  # "percent error", "margin of error", "error message"
    words = tx.words_before(m.start(), 4)
    if any(w in _ERR_GENERIC for w in words):
        return True  # "any errors", "possible mistakes", "a common mistake is to ..."
    plural = m.group(0).lower().endswith("s")
    for w in reversed(words):  # nearest first: "for sign errors" ok, "for the error" a claim
        if w in _ERR_CLAIM_DET:
            return False
        if w in _ERR_FOR:
            return plural
    return False


def _fix_exempt(tx: _Text, m: re.Match[str]) -> bool:
    obj = m.group("obj").lower()
    return obj in ("any", "anything", "whatever", "whichever") or tx.condition_in_sentence(m.start("verb"))


_RULES: tuple[_Rule, ...] = (
    _Rule("symbol", re.compile(r"[✓✔✗✘❌✅☑👍👎🎉💯👏🙌⭐🥳]|\(\s*[x✓]\s*\)"), licensable=False),
    _Rule("interjection", re.compile(
        r"(?:^|[.!?;:,—–\n(]\s*|\s-\s)(?:correct|incorrect|right|wrong|exactly|precisely|perfect|excellent|great|good|"
        r"nice|fine|(?:ok(?:ay)?|alright|all\s+right)(?=\s*(?:[!.]|$))|true|false|indeed|yes|yeah|yep|yup|no|nope|"
        r"nah|bingo|bravo|not\s+bad|"
        r"close|almost|not\s+quite|not\s+exactly|not\s+really|so\s+close|hmm+|h+m+|oops|uh[- ]oh|whoa|wow|"
        r"hurray|hooray|splendid|superb|brilliant|fantastic|awesome|wonderful|spot\s+on|nailed\s+it)"
        r"\s*(?:[!.,;:?—–]|$)", _I), licensable=False),
    _Rule("praise", re.compile(
        r"\b(?:well\s+done|nicely\s+done|(?:good|great|nice|excellent|fine|solid|impressive|awesome|terrific)\s+"
        r"(?:job|work|effort|start|attempt|try|thinking|catch|reasoning|answer|solution|going|progress|"
        r"approach|setup|set-up|logic|explanation|understanding|grasp|intuition|insight|instincts?)"
        r"(?!\s+(?:is|would|to|for|might|could|can|here))|"
        r"bravo|congrat(?:ulation)?s|kudos|keep\s+(?:it|this)\s+up|keep\s+up\s+the|nailed\s+it|"
        r"well\s+(?:reasoned|argued|explained|thought(?:\s+out)?|organi[sz]ed|structured|written|presented|"
        r"executed|handled|justified|calculated|computed|solved)|lgtm|thumbs\s+up|impressive|awesome|"
        r"brilliant|superb|fantastic|outstanding|terrific|wonderful|splendid|excellent|full\s+marks|"
        r"top\s+marks|not\s+bad|well\s+played|(?:good|great|nice|excellent|clever|smart)\s+(?:use|choice|move|"
        r"observation|call)\s+of|way\s+to\s+go|good\s+news|bang\s+on|dead\s+on|on\s+the\s+money|full\s+"
        r"(?:credit|points|score)|deserves?\s+(?:full\s+|some\s+|partial\s+)?(?:credit|marks|points)|"
        r"(?:crushed|aced)\s+it|you\s+nailed)\b"
        r"|(?:^|[.!?]\s*)(?:you['’]ve|you\s+have|you)\s+got\s+it\s*(?:[!.]|$)", _I), licensable=False),
    _Rule("are_you_sure", re.compile(
        r"\b(?:are|were)\s+you\s+(?:really\s+|absolutely\s+|completely\s+|totally\s+|quite\s+)?(?:sure|certain|"
        r"positive|confident|convinced)\b", _I), licensable=False),
    _Rule("try_again", re.compile(
        r"\b(?:try|give\s+it|have)\s+(?:it\s+)?(?:again|another\s+(?:try|go|shot|attempt)|once\s+more|"
        r"one\s+more\s+time)\b|\bstart\s+(?:over|again)\b|\bfrom\s+scratch\b|\bback\s+to\s+the\s+drawing\s+board\b",
        _I), licensable=False),
    _Rule("no_change", re.compile(
        r"\bno\s+(?:further\s+)?(?:changes?|corrections?|revisions?|fixes|edits?|modifications?|adjustments?)\b"
        r"|\bnothing\s+(?:needs\s+to\s+(?:be\s+)?|to\s+|is\s+|was\s+|seems\s+|looks\s+)?(?:change|fix|correct|"
        r"revise|wrong|incorrect|missing|off|amiss)"
        r"|\b(?:keep|leave|stick\s+with|stand\s+by|retain)\s+(?:your|the|this|that)\s+(?:final\s+)?(?:answer|"
        r"solution|result|work)\b|\b(?:keep|leave)\s+it\s+(?:as\s+(?:it\s+)?is|unchanged|alone|the\s+same)\b"
        r"|\b(?:do\s+not|don['’]t|no\s+need\s+to|needn['’]t|need\s+not|shouldn['’]t)\s+(?:change|revise|fix|"
        r"modify|correct|redo|touch)\b"
        r"|\bas\s+(?:it\s+)?(?:is|was\s+written)\b(?!\s+(?:stated|written|given|asked|phrased|worded|described|"
        r"defined|shown|printed))", _I), licensable=False),
    _Rule("near_miss", re.compile(
        r"\b(?:almost|nearly|just\s+about)\s+(?:there|done|finished|got\s+it|have\s+it)\b|\bgetting\s+(?:there|"
        r"close|warmer|colder)\b|\b(?:so|very|really|pretty|quite|fairly)\s+close\b|\bclose,?\s+but\b|"
        r"\bon\s+the\s+(?:right|wrong)\s+(?:track|path|lines)\b|\b(?:right|wrong)\s+(?:idea|direction|approach|"
        r"track)\b|\bhalf\s+(?:right|wrong|correct)\b|\bmost\s+of\s+the\s+way\b|\bone\s+step\s+away\b", _I),
        licensable=False),
    _Rule("comparison", re.compile(
        r"\bI\s+(?:also\s+)?(?:got|get|obtained|calculated|computed|came\s+up\s+with|arrived\s+at|make\s+it|"
        r"ended\s+up\s+with|end\s+up\s+with|worked\s+it\s+out)\b"
        r"|\bI\s+(?:also\s+)?(?:found|find|obtain|have|had|reached)\s+(?:the\s+same|a\s+different|something\s+"
        r"(?:else|different)|another|a\s+similar|the\s+identical)\b"
        r"|\b(?:matches|match|matched|agrees?\s+with|agreed\s+with|same\s+as|differs?\s+from|"
        r"disagrees?\s+with|coincides?\s+with)\s+(?:mine|my\b|what\s+I|the\s+(?:expected|reference|official|"
        r"given|key|correct|right|true|real))|\bmy\s+(?:own\s+)?(?:answer|result|solution|calculation|"
        r"computation|value|total|working)\b|\b(?:expected|reference|official|intended|model)\s+(?:answer|result|"
        r"solution|output|total)\b|\b(?:reference|official|intended)\s+value\b|"
        r"\b(?:answer|solution|marking)\s+key\b", _I),
        licensable=False),
    _Rule("opinion", re.compile(
        r"\bI\s+(?:agree|disagree|doubt|suspect|concur)\b|\bI(?:['’]m|\s+am)\s+(?:not\s+)?(?:so\s+|quite\s+|"
        r"very\s+|fairly\s+|pretty\s+|entirely\s+|completely\s+|totally\s+)?(?:sure|certain|convinced|confident|"
        r"positive|happy|satisfied)\b|\bI\s+(?:don['’]t|do\s+not)\s+(?:think|believe)\b|\bin\s+my\s+(?:opinion|"
        r"view|judgement|judgment)\b|\bI\s+(?:think|believe|guess|suppose)\s+(?:so|not)\b"
        r"|\bI(?:['’]d|\s+would|\s+do|\s+wouldn['’]t|\s+don['’]t|\s+can['’]t|\s+cannot)?(?:\s+not)?\s+(?:trust|buy|"
        r"accept|vouch\s+for|stand\s+by)\b", _I), licensable=False),
    _Rule("review_claim", re.compile(
        r"\bI(?:['’]ve|\s+have|\s+had)?\s+(?:already\s+|also\s+|just\s+|now\s+)?(?:corrected|fixed|checked|verified|"
        r"confirmed|validated|double[- ]checked|re-?checked|graded|marked|spotted|found\s+(?:the|an?|one|two|"
        r"some|several|no|nothing))\b", _I), licensable=False),
    _Rule("attempt_assertion", _ASSERTION, exempt=_assertion_exempt),
    _Rule("verdict_word", re.compile(rf"\b{_WORD}\b", _I), exempt=_word_exempt),
    _Rule("predicate", re.compile(
        rf"\b{_COPULA}(?:\s+{_ADVERB})*\s+(?P<w>{_PRED})\b|\b{_HEDGE}\s+(?P<h>{_PRED})\b", _I), exempt=_pred_exempt),
    _Rule("size_judgement", re.compile(
        rf"\b{_COPULA}\s+(?:a\s+(?:little|bit|tad)|slightly|somewhat|rather|far|way|much|quite|pretty|"
        r"suspiciously|unusually|surprisingly)\s+(?:high|low|large|small|big|excessive)\b"
        r"|\b(?:seems?|looks?|appears?|feels?)\s+(?:\w+\s+)?(?:high|low|large|small|big|excessive)\b", _I)),
    _Rule("not_what_asked", re.compile(
        r"\b(?:is|isn['’]t|is\s+not|was|wasn['’]t|was\s+not|are|aren['’]t)\s+(?:not\s+)?(?:exactly\s+|quite\s+)?what\s+"
        r"(?:the\s+(?:problem|question|task)|we|I|they)\s+(?:is\s+|are\s+|was\s+)?(?:looking\s+for|asks?\s+for|"
        r"asked\s+for|wants?|wanted|expects?|expected|needs?|needed)\b", _I)),
    _Rule("numeric_correction", re.compile(
        r"\b\d[\d.,]*\s*%?\s*(?:[a-z]+\s+)?(?:(?:is|are|was)\s+not|isn['’]t|aren['’]t|wasn['’]t)\s+"
        r"(?:equal\s+to\s+|the\s+same\s+as\s+)?[$£€]?\d", _I)),
    _Rule("swap_claim", re.compile(
        r"\b(?:signs?|order|inequality|direction|roles?|numerator|denominator|digits?|terms?|operands?)\s+"
        r"(?:[\w'-]+\s+){0,3}?(?:is|are|was|were|got|gets|has\s+been|have\s+been)\s+(?:\w+\s+)?(?:flipped|reversed|"
        r"swapped|inverted|switched|backwards)\b", _I)),
    _Rule("error_claim", re.compile(rf"\b{_ERR_NOUN}\b", _I), exempt=_error_exempt),
    _Rule("fix_directive", _FIX, exempt=_fix_exempt),
    _Rule("student_slip", re.compile(
        r"\byou(?:['’]ve|\s+have|\s+had)?\s+(?:(?:seem|appear|seemed|appeared)\s+to\s+(?:have\s+)?)?(?:forgot(?:ten)?|"
        r"forget|missed|overlooked|ignored|neglected|omitted|skipped|dropped|miscount(?:ed)?|"
        r"miscalculat(?:ed|e)|misread|misunderstood|misinterpret(?:ed)?|mixed\s+up|confused|swapped|flipped|"
        r"reversed|double[- ]counted|failed|mistook|messed\s+up|slipped|erred|didn['’]t|did\s+not|haven['’]t|"
        r"have\s+not|hadn['’]t|never|mis[a-z]{2,}ed|botched|bungled|fumbled|flubbed|garbled|muddled|overcounted|"
        r"undercounted|overestimated|underestimated|overshot|undershot|inverted|switched|screwed\s+up)\b"
        r"|\b(?:counted|added|included|used|subtracted|applied)\s+[^.!?;:]{0,40}?\btwice\b"
        r"|\byou(?:['’]ve|\s+have)?\s+\w+ed\b[^.!?;:]{0,60}?\b(?:instead\s+of|rather\s+than)\b"
        r"|\b(?:step\s+\d+|it|this|that|(?:your|the|this)\s+(?:\w+\s+)?(?:step|line|solution|answer|calculation|"
        r"computation|reasoning|work|approach|method|argument|result|total|equation|setup|logic|formula|code|"
        r"attempt))\s+(?:forgets?|ignores?|ignored|misses|missed|omits?|omitted|overlooks?|overlooked|neglects?|"
        r"neglected|skips?|skipped|double[- ]counts?|confuses?|confused|mixes\s+up|mixed\s+up|fails?|failed)\b"
        r"|\b(?:overshoots|undershoots|overestimates|underestimates|overcounts|undercounts|misapplies|misuses|"
        r"misreads|botches)\b", _I)),
    _Rule("should_have", re.compile(
        r"\bshould(?:n['’]t|\s+not)?\s+have\s+(?:been\s+)?\w+|\b(?:step\s+\d+|it|this|that|your\s+\w+)\s+should\s+"
        r"(?:be|equal|read|give|come\s+to|have\s+been)\b", _I)),
    _Rule("needs_fixing", re.compile(
        r"\bneeds?\s+(?:(?:some|more|a\s+bit\s+of|a\s+little|another)\s+)?(?:work|fixing|correcting|correction|"
        r"changing|revising|revision|rework(?:ing)?|to\s+be\s+(?:fixed|corrected|changed|revised|"
        r"redone|reworked|adjusted|rethought))\b", _I)),
    _Rule("goes_wrong", re.compile(
        r"\b(?:go(?:es)?|went|gone|going)\s+(?:wrong|astray|awry|off(?:\s+(?:track|course|the\s+rails))?|south|"
        r"sideways|haywire)\b|\bderail(?:s|ed)?\b|\bbreaks\s+down\b|\bbroke\s+down\b|\bfalls?\s+(?:apart|short)\b"
        r"|\bfell\s+(?:apart|short)\b|\bmiss(?:es|ed)?\s+the\s+mark\b|(?<![-\w])off\s+by\b|\bslip(?:s|ped)?\s+up\b",
        _I)),
    _Rule("elliptical", re.compile(
        r"(?:[,;:—–]|\s-\s|\bbecause|\bsince|\bbut|\band|\bas)\s+(?:it|this|that|they|which|you)\s+(?:is|isn['’]t|"
        r"was|wasn['’]t|are|aren['’]t|were|weren['’]t|does|doesn['’]t|did|didn['’]t|do|don['’]t|have|haven['’]t|"
        r"has|hasn['’]t)(?:\s+not)?\s*(?:[.!?)]|$)", _I), licensable=False),
    _Rule("it_works", re.compile(
        r"\b(?:it|this|that|everything|all|step\s+\d+|(?:your|the|this)\s+(?:\w+\s+)?(?:answer|solution|result|total|"
        r"approach|method|reasoning|argument|logic|calculation|computation|work|setup|code|equation|step))\s+"
        r"(?:works|worked|holds(?:\s+up)?|held\s+up|checks?\s+out|checked\s+out|adds?\s+up|added\s+up|stands(?!\s+for)|"
        r"stood|survives|survived|passes(?!\s+through)|passed(?!\s+through)|"
        r"makes\s+sense|made\s+sense|(?:does|did)(?:n['’]t|\s+not)\s+(?:quite\s+|really\s+)?(?:work|hold|follow|"
        r"add\s+up|make\s+sense|match|account|check\s+out|satisfy|fit|agree|balance))\b"
        r"|\b(?:checks|checked)\s+out\b|\b(?:holds|held)\s+up\b|\bstands?\s+correct\b", _I)),
)


def find_verdict(text: str) -> VerdictHit | None:
    """The first verdict in ``text`` (any sentence, any position), or None. See the module docstring."""
    t = text.replace("’", "'").replace("‘", "'")
    tx = _Text(t)
    for rule in _RULES:
        for m in rule.pattern.finditer(t):
            if rule.exempt is not None and rule.exempt(tx, m):
                continue
            if rule.licensable and tx.licensed(_cue_start(m)):
                continue
            return VerdictHit(rule.name, _around(t, m.start()))
    return None


def recheck_licensed(text: str, pos: int) -> bool:
    """Whether position ``pos`` of ``text`` sits in a re-check complement or a plain yes/no question (licenses 1-2
    of the module docstring). The final-answer rule uses it for "check whether your answer is reasonable"."""
    return _Text(text.replace("’", "'").replace("‘", "'")).licensed(pos)


def _cue_start(m: re.Match[str]) -> int:
    """Where the judging word starts (a predicate match starts at its copula; license from there)."""
    return m.start()


def _around(text: str, pos: int, width: int = 48) -> str:
    return text[max(0, pos - 12) : pos + width].replace("\n", " ").strip()
