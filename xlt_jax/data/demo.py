"""The demo task: templated arithmetic word problems in 8 languages, written in MGSM format.

Every problem has two numbers a, b in 1..9 written as digits; whether they are
added or subtracted (a >= b, so answers are 0..18) is said only in words ("buys
3 more" vs "gives 3 to a friend"), so a model has to understand the language to
answer. Files are `{data_dir}/demo_arith/{split}/{language}.tsv` (question TAB
answer, no header) and are read back through the same MGSM reader as the real
benchmark.

    python -m xlt_jax.demo_data --out=DIR [--train=1000 --validation=32 --test=250]
"""

import dataclasses
import functools
import itertools
import os
import random
from typing import Callable

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.core.languages import check_language

DEMO_LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt")
NUMBERS = range(1, 10)
OPERATIONS = ("add", "subtract")


# A template field function: (name fields, item fields, a, b) -> extra fields.
_Fields = Callable[[dict[str, str], dict[str, str], int, int], dict[str, str]]


def _latin_fields(name: dict[str, str], item: dict[str, str], a: int, b: int) -> dict[str, str]:
  """The noun agrees with the number before it: "1 apple", "2 apples"."""
  return {
      "a_noun": item["singular"] if a == 1 else item["plural"],
      "b_noun": item["singular"] if b == 1 else item["plural"],
  }


def _arabic_count(number: int, item: dict[str, str], case: str) -> str:
  """An Arabic counted noun after its digit: singular for 1, dual for 2, plural for 3-9.

  Arabic counts one and two with the singular and the dual, and the dual shows
  case (nominative "تفاحتان" as a subject, accusative "تفاحتين" as an object).
  The digit stays before the noun as in the other languages, so that numbers are
  written the same way in every language. Every item is a feminine noun in -ة,
  whose accusative singular is spelled like the nominative.
  """
  if number == 1:
    noun = item["singular"]
  elif number == 2:
    noun = item[f"dual_{case}"]
  else:
    noun = item["plural"]  # 3 to 10 take the plural; its genitive is spelled the same.
  return f"{number} {noun}"


def _arabic_fields(name: dict[str, str], item: dict[str, str], a: int, b: int) -> dict[str, str]:
  """In every Arabic template `a` counts a subject and `b` an object."""
  return {
      "a_count": _arabic_count(a, item, "nominative"),
      "b_count": _arabic_count(b, item, "accusative"),
  }


def _no_fields(name: dict[str, str], item: dict[str, str], a: int, b: int) -> dict[str, str]:
  """Japanese, Chinese and Korean counters do not inflect with the number."""
  return {}


@dataclasses.dataclass(frozen=True)
class _LanguageSpec:
  """What one language's problems are made of.

  Attributes:
    names: 6 people, each a dict of template fields ({"name": ...} and, where the
      grammar needs it, e.g. French, their pronoun).
    items: 6 countable things, each a dict of its forms as template fields.
    templates: operation -> at least 2 templates; fields {name}, {a}, {b}, the
      name's and item's fields, and those `fields` computes.
    fields: extra fields that depend on the numbers (agreement).
  """

  names: tuple[dict[str, str], ...]
  items: tuple[dict[str, str], ...]
  templates: dict[str, tuple[str, ...]]
  fields: _Fields


def _names(*names: str) -> tuple[dict[str, str], ...]:
  return tuple({"name": name} for name in names)


_SPECS: dict[str, _LanguageSpec] = {
    "en": _LanguageSpec(
        names=_names("Anna", "Ben", "Clara", "David", "Emma", "Frank"),
        items=tuple({"singular": singular, "plural": singular + "s"} for singular in
                    ("apple", "pencil", "book", "cookie", "sticker", "marble")),
        templates={
            "add": (
                "{name} has {a} {a_noun}. {name} buys {b} more {b_noun}."
                " How many {plural} does {name} have now?",
                # "A box holds" rather than "There are": no verb agreement with 1.
                "A box holds {a} {a_noun}. {name} puts {b} more {b_noun} in the box."
                " How many {plural} are in the box now?",
            ),
            "subtract": (
                "{name} has {a} {a_noun}. {name} gives {b} {b_noun} to a friend."
                " How many {plural} does {name} have now?",
                "A box holds {a} {a_noun}. {name} takes {b} {b_noun} out of the box."
                " How many {plural} are in the box now?",
            ),
        },
        fields=_latin_fields,
    ),
    "es": _LanguageSpec(
        names=_names("Ana", "Carlos", "Lucía", "Miguel", "Sofía", "Javier"),
        # "how_many" agrees in gender with the item.
        items=tuple({"singular": singular, "plural": plural, "how_many": how_many}
                    for singular, plural, how_many in (
                        ("manzana", "manzanas", "Cuántas"), ("lápiz", "lápices", "Cuántos"),
                        ("libro", "libros", "Cuántos"), ("galleta", "galletas", "Cuántas"),
                        ("pegatina", "pegatinas", "Cuántas"), ("canica", "canicas", "Cuántas"))),
        templates={
            "add": (
                "{name} tiene {a} {a_noun}. {name} compra {b} {b_noun} más."
                " ¿{how_many} {plural} tiene {name} ahora?",
                "Hay {a} {a_noun} en una caja. {name} pone {b} {b_noun} más en la caja."
                " ¿{how_many} {plural} hay ahora en la caja?",
            ),
            "subtract": (
                "{name} tiene {a} {a_noun}. {name} le da {b} {b_noun} a un amigo."
                " ¿{how_many} {plural} tiene {name} ahora?",
                "Hay {a} {a_noun} en una caja. {name} saca {b} {b_noun} de la caja."
                " ¿{how_many} {plural} hay ahora en la caja?",
            ),
        },
        fields=_latin_fields,
    ),
    "fr": _LanguageSpec(
        # The pronoun of the question's inversion: "Combien de pommes Marie a-t-elle ?"
        names=tuple({"name": name, "pronoun": pronoun} for name, pronoun in (
            ("Marie", "elle"), ("Pierre", "il"), ("Camille", "elle"), ("Louis", "il"),
            ("Léa", "elle"), ("Hugo", "il"))),
        # "how_many_of" elides "de" before a vowel: "combien d'autocollants".
        items=tuple({"singular": singular, "plural": singular + "s",
                     "how_many_of": ("Combien d'" if singular[0] in "aeiou" else "Combien de ")
                                    + singular + "s"}
                    for singular in ("pomme", "crayon", "livre", "biscuit", "autocollant", "bille")),
        templates={
            "add": (
                "{name} a {a} {a_noun}. {name} achète {b} {b_noun} de plus."
                " {how_many_of} {name} a-t-{pronoun} maintenant ?",
                "Il y a {a} {a_noun} dans une boîte. {name} met {b} {b_noun} de plus dans la"
                " boîte. {how_many_of} y a-t-il maintenant dans la boîte ?",
            ),
            "subtract": (
                "{name} a {a} {a_noun}. {name} donne {b} {b_noun} à un ami."
                " {how_many_of} {name} a-t-{pronoun} maintenant ?",
                "Il y a {a} {a_noun} dans une boîte. {name} retire {b} {b_noun} de la boîte."
                " {how_many_of} y a-t-il maintenant dans la boîte ?",
            ),
        },
        fields=_latin_fields,
    ),
    "pt": _LanguageSpec(
        names=_names("João", "Maria", "Pedro", "Beatriz", "Lucas", "Mariana"),
        items=tuple({"singular": singular, "plural": plural, "how_many": how_many}
                    for singular, plural, how_many in (
                        ("maçã", "maçãs", "Quantas"), ("lápis", "lápis", "Quantos"),
                        ("livro", "livros", "Quantos"), ("biscoito", "biscoitos", "Quantos"),
                        ("adesivo", "adesivos", "Quantos"), ("laranja", "laranjas", "Quantas"))),
        templates={
            "add": (
                "{name} tem {a} {a_noun}. {name} compra mais {b} {b_noun}."
                " {how_many} {plural} {name} tem agora?",
                "Há {a} {a_noun} em uma caixa. {name} coloca mais {b} {b_noun} na caixa."
                " {how_many} {plural} há na caixa agora?",
            ),
            "subtract": (
                "{name} tem {a} {a_noun}. {name} dá {b} {b_noun} para um amigo."
                " {how_many} {plural} {name} tem agora?",
                "Há {a} {a_noun} em uma caixa. {name} tira {b} {b_noun} da caixa."
                " {how_many} {plural} há na caixa agora?",
            ),
        },
        fields=_latin_fields,
    ),
    "ja": _LanguageSpec(
        names=_names("太郎", "花子", "健太", "さくら", "翔太", "美咲"),
        items=tuple({"item": item, "counter": counter} for item, counter in (
            ("りんご", "個"), ("鉛筆", "本"), ("本", "冊"), ("クッキー", "枚"), ("シール", "枚"),
            ("ビー玉", "個"))),
        templates={
            "add": (
                "{name}は{item}を{a}{counter}持っています。{name}は{item}をさらに{b}{counter}"
                "買いました。{name}は今{item}を何{counter}持っていますか？",
                "箱に{item}が{a}{counter}入っています。{name}は箱に{item}をさらに{b}{counter}"
                "入れました。箱には今{item}が何{counter}入っていますか？",
            ),
            "subtract": (
                "{name}は{item}を{a}{counter}持っています。{name}は友達に{item}を{b}{counter}"
                "あげました。{name}は今{item}を何{counter}持っていますか？",
                "箱に{item}が{a}{counter}入っています。{name}は箱から{item}を{b}{counter}"
                "取り出しました。箱には今{item}が何{counter}入っていますか？",
            ),
        },
        fields=_no_fields,
    ),
    "zh": _LanguageSpec(
        names=_names("小明", "小红", "李雷", "韩梅梅", "王芳", "张伟"),
        items=tuple({"item": item, "counter": counter} for item, counter in (
            ("苹果", "个"), ("铅笔", "支"), ("书", "本"), ("饼干", "块"), ("贴纸", "张"),
            ("弹珠", "颗"))),
        templates={
            "add": (
                "{name}有{a}{counter}{item}。{name}又买了{b}{counter}{item}。"
                "{name}现在有多少{counter}{item}？",
                "盒子里有{a}{counter}{item}。{name}又往盒子里放了{b}{counter}{item}。"
                "盒子里现在有多少{counter}{item}？",
            ),
            "subtract": (
                "{name}有{a}{counter}{item}。{name}送给朋友{b}{counter}{item}。"
                "{name}现在有多少{counter}{item}？",
                "盒子里有{a}{counter}{item}。{name}从盒子里拿走了{b}{counter}{item}。"
                "盒子里现在有多少{counter}{item}？",
            ),
        },
        fields=_no_fields,
    ),
    "ar": _LanguageSpec(
        # Male names: the verbs and "صديقه" (his friend) are masculine.
        names=_names("أحمد", "محمد", "علي", "عمر", "يوسف", "خالد"),
        items=tuple({"singular": singular, "dual_nominative": dual_nominative,
                     "dual_accusative": dual_accusative, "plural": plural,
                     "definite_plural": "ال" + plural}
                    for singular, dual_nominative, dual_accusative, plural in (
                        ("تفاحة", "تفاحتان", "تفاحتين", "تفاحات"),
                        ("برتقالة", "برتقالتان", "برتقالتين", "برتقالات"),
                        ("كعكة", "كعكتان", "كعكتين", "كعكات"),
                        ("وردة", "وردتان", "وردتين", "وردات"),
                        ("كرة", "كرتان", "كرتين", "كرات"),
                        ("بطاقة", "بطاقتان", "بطاقتين", "بطاقات"))),
        # No adjective such as "more" (أخرى): it would have to agree with the
        # singular, dual or plural noun; "then he bought" says the same.
        templates={
            "add": (
                "لدى {name} {a_count}. ثم اشترى {name} {b_count}."
                " كم عدد {definite_plural} لدى {name} الآن؟",
                "في الصندوق {a_count}. ثم وضع {name} {b_count} في الصندوق."
                " كم عدد {definite_plural} في الصندوق الآن؟",
            ),
            "subtract": (
                "لدى {name} {a_count}. ثم أعطى {name} صديقه {b_count}."
                " كم عدد {definite_plural} لدى {name} الآن؟",
                "في الصندوق {a_count}. ثم أخرج {name} {b_count} من الصندوق."
                " كم عدد {definite_plural} في الصندوق الآن؟",
            ),
        },
        fields=_arabic_fields,
    ),
    "ko": _LanguageSpec(
        # Every name ends in a vowel, so the topic particle is always 는.
        names=_names("민수", "지우", "유나", "수아", "도희", "재호"),
        # The item with its object and subject particles, and its counter.
        items=tuple({"object": item_object, "subject": item_subject, "counter": counter}
                    for item_object, item_subject, counter in (
                        ("사과를", "사과가", "개"), ("연필을", "연필이", "자루"),
                        ("책을", "책이", "권"), ("쿠키를", "쿠키가", "개"),
                        ("스티커를", "스티커가", "장"), ("구슬을", "구슬이", "개"))),
        templates={
            "add": (
                "{name}는 {object} {a}{counter} 가지고 있습니다. {name}는 {object} {b}{counter}"
                " 더 샀습니다. {name}는 지금 {object} 몇 {counter} 가지고 있습니까?",
                "상자에 {subject} {a}{counter} 들어 있습니다. {name}는 상자에 {object}"
                " {b}{counter} 더 넣었습니다. 지금 상자에는 {subject} 몇 {counter} 들어 있습니까?",
            ),
            "subtract": (
                "{name}는 {object} {a}{counter} 가지고 있습니다. {name}는 친구에게 {object}"
                " {b}{counter} 주었습니다. {name}는 지금 {object} 몇 {counter} 가지고 있습니까?",
                "상자에 {subject} {a}{counter} 들어 있습니다. {name}는 상자에서 {object}"
                " {b}{counter} 꺼냈습니다. 지금 상자에는 {subject} 몇 {counter} 들어 있습니까?",
            ),
        },
        fields=_no_fields,
    ),
}


def _check_demo_language(language: str) -> str:
  return check_language(language, DEMO_LANGUAGES, what="demo task language")


@functools.lru_cache(maxsize=None)
def _all_problems(language: str) -> tuple[tuple[str, int], ...]:
  """Every distinct problem of a language, in a fixed order (before any shuffling)."""
  spec = _SPECS[_check_demo_language(language)]
  problems: dict[str, int] = {}
  for operation in OPERATIONS:
    for template, name, item, a, b in itertools.product(
        spec.templates[operation], spec.names, spec.items, NUMBERS, NUMBERS
    ):
      if operation == "subtract" and b > a:
        continue  # Answers stay non-negative.
      fields = {**name, **item, "a": a, "b": b, **spec.fields(name, item, a, b)}
      question = template.format(**fields)
      answer = a + b if operation == "add" else a - b
      if problems.setdefault(question, answer) != answer:
        # Two problems reading the same with different answers would make the task ambiguous.
        raise AssertionError(f"demo template ambiguity in {language}: {question!r}")
  return tuple(problems.items())


def distinct_problem_count(language: str) -> int:
  """How many distinct problems the templates produce for `language` (thousands)."""
  return len(_all_problems(language))


def generate_problems(language: str, count: int, seed: int) -> list[tuple[str, int]]:
  """`count` distinct (question, answer) problems of `language`, in shuffled order.

  Guarantees: the same (language, count, seed) gives the same list on every
  machine and Python version (string-seeded `random.Random`, no numpy); no
  question occurs twice; the list for a smaller count is a prefix of the list for
  a larger count with the same seed.

  Raises:
    UserInputError: unknown language, negative count, or more problems than the
      templates can produce.
  """
  problems = list(_all_problems(language))
  if count < 0:
    raise UserInputError(f"demo problem count must be >= 0, got {count}")
  if count > len(problems):
    raise UserInputError(
        f"the demo task has {len(problems)} distinct {language} problems, {count} requested"
    )
  random.Random(f"demo_arith:{language}:{seed}").shuffle(problems)
  return problems[:count]


def parallel_questions(source: str, target: str, count: int, seed: int,
                       exclude: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
  """`count` pairs (source question, target question) that state the same problem.

  "The same problem" means the same operation, template, person, item and numbers:
  every language enumerates its problems in the same order (`_all_problems`), so the
  i-th problem of one language is the i-th of another (Arabic's items are other
  fruit and things, the numbers and the operation are the same). A pair is left out
  when either question is in `exclude` (e.g. held-out problems). Deterministic in
  (source, target, count, seed, exclude), like `generate_problems`.

  Raises:
    UserInputError: unknown language, negative count, or fewer pairs than `count`.
  """
  source_problems = _all_problems(_check_demo_language(source))
  target_problems = _all_problems(_check_demo_language(target))
  if len(source_problems) != len(target_problems):  # the templates' enumeration broke
    raise AssertionError(f"demo problems of {source} and {target} are not parallel")
  if count < 0:
    raise UserInputError(f"demo parallel pair count must be >= 0, got {count}")
  pairs = [(s, t) for (s, _), (t, _) in zip(source_problems, target_problems)
           if s not in exclude and t not in exclude]
  if count > len(pairs):
    raise UserInputError(f"the demo task has {len(pairs)} {source}-{target} parallel problems"
                         f" outside those excluded, {count} requested")
  random.Random(f"demo_arith_parallel:{source}:{target}:{seed}").shuffle(pairs)
  return pairs[:count]


def _check_split_name(split: str) -> str:
  # The split becomes a directory name: keep it a single plain path component.
  if not split or split in (".", "..") or "/" in split or os.sep in split:
    raise UserInputError(f"demo split name {split!r} is not a plain directory name")
  return split


# Problems per language and split; the launcher's DemoDataConfig and the binary share them.
DEFAULT_SPLIT_SIZES = {"train": 1000, "validation": 32, "test": 250}  # as MGSM: 250 per language


def write_demo_dataset(
    data_dir: str,
    split_sizes: dict[str, int],
    languages: tuple[str, ...] = DEMO_LANGUAGES,
    seed: int = 0,
) -> dict[str, str]:
  """Writes `{data_dir}/demo_arith/{split}/{language}.tsv` for every split and language.

  Each file is in MGSM format (question TAB answer, no header, UTF-8) and is
  written atomically. Per language, the splits are consecutive slices, in the
  order of `split_sizes`, of one shuffled list of distinct problems, so no
  question is in two splits. Everything is checked before any file is written.

  Returns:
    {"<split>/<language>": path} for every file written.

  Raises:
    UserInputError: unknown language, bad split name or size, or a language with
      fewer distinct problems than the sizes add up to.
  """
  languages = tuple(_check_demo_language(language) for language in languages)
  for split, size in split_sizes.items():
    _check_split_name(split)
    if not isinstance(size, int) or size < 0:
      raise UserInputError(f"demo split {split!r} size must be an integer >= 0, got {size!r}")
  total = sum(split_sizes.values())
  problems_by_language = {
      language: generate_problems(language, total, seed) for language in languages
  }
  written = {}
  for language, problems in problems_by_language.items():
    start = 0
    for split, size in split_sizes.items():
      rows = problems[start:start + size]
      start += size
      path = paths.join(data_dir, "demo_arith", split, f"{language}.tsv")
      atomic_io.write_text(path, "".join(f"{question}\t{answer}\n" for question, answer in rows))
      written[f"{split}/{language}"] = path
  return written
