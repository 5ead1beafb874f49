"""The demo task: templated arithmetic word problems in 8 languages, written in MGSM format.

The operation (add or subtract) is expressed only in words ("buys 3 more" vs
"gives 3 to a friend"), so a model must understand the language to answer: an
English-only model cannot tell the operations apart in Japanese. Files are
`{data_dir}/demo_arith/{split}/{language}.tsv` (question TAB answer, no header),
read back through the same MGSM reader as the real benchmark.

    python -m xlt_jax.demo_data --out=DIR [--train=1000 --validation=32 --test=50]
"""

import argparse
import itertools
import os
import sys

import numpy as np

from xlt_jax import atomic_io
from xlt_jax.errors import UserInputError

DEMO_LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt")
NUMBERS = range(2, 10)  # from 2, so that every noun is plural in every language

# Per language: names, items (the fields its templates use) and two templates per
# operation. Spanish and Portuguese items carry the gender of "how many"; Japanese,
# Chinese and Korean items carry their counter word; Korean items their particles.
_LANGUAGE_DATA = {
    "en": {
        "names": ["Anna", "Ben", "Clara", "David", "Emma", "Frank"],
        "items": [{"item": word} for word in
                  ["apples", "pencils", "books", "cookies", "stickers", "marbles"]],
        "add": ["{name} has {a} {item}. {name} buys {b} more {item}. How many {item} does"
                " {name} have now?",
                "There are {a} {item} in a box. {name} puts {b} more {item} in the box. How"
                " many {item} are in the box now?"],
        "subtract": ["{name} has {a} {item}. {name} gives {b} {item} to a friend. How many"
                     " {item} does {name} have now?",
                     "There are {a} {item} in a box. {name} takes {b} {item} out of the box."
                     " How many {item} are in the box now?"],
    },
    "es": {
        "names": ["Ana", "Carlos", "Lucía", "Miguel", "Sofía", "Javier"],
        "items": [{"item": word, "many": many} for word, many in
                  [("manzanas", "Cuántas"), ("lápices", "Cuántos"), ("libros", "Cuántos"),
                   ("galletas", "Cuántas"), ("pegatinas", "Cuántas"), ("canicas", "Cuántas")]],
        "add": ["{name} tiene {a} {item}. {name} compra {b} {item} más. ¿{many} {item} tiene"
                " {name} ahora?",
                "Hay {a} {item} en una caja. {name} pone {b} {item} más en la caja. ¿{many}"
                " {item} hay ahora en la caja?"],
        "subtract": ["{name} tiene {a} {item}. {name} le da {b} {item} a un amigo. ¿{many}"
                     " {item} tiene {name} ahora?",
                     "Hay {a} {item} en una caja. {name} saca {b} {item} de la caja. ¿{many}"
                     " {item} hay ahora en la caja?"],
    },
    "fr": {
        "names": ["Marie", "Pierre", "Camille", "Louis", "Léa", "Hugo"],
        # "of_items" elides "de" before a vowel: "Combien d'autocollants".
        "items": [{"item": word, "of_items": ("d'" if word[0] in "aeiou" else "de ") + word}
                  for word in ["pommes", "crayons", "livres", "biscuits", "autocollants", "billes"]],
        "add": ["{name} a {a} {item}. {name} achète {b} {item} de plus. Combien {of_items} a"
                " {name} maintenant ?",
                "Il y a {a} {item} dans une boîte. {name} met {b} {item} de plus dans la boîte."
                " Combien {of_items} y a-t-il maintenant dans la boîte ?"],
        "subtract": ["{name} a {a} {item}. {name} donne {b} {item} à un ami. Combien {of_items}"
                     " a {name} maintenant ?",
                     "Il y a {a} {item} dans une boîte. {name} retire {b} {item} de la boîte."
                     " Combien {of_items} y a-t-il maintenant dans la boîte ?"],
    },
    "pt": {
        "names": ["João", "Maria", "Pedro", "Beatriz", "Lucas", "Mariana"],
        "items": [{"item": word, "many": many} for word, many in
                  [("maçãs", "Quantas"), ("lápis", "Quantos"), ("livros", "Quantos"),
                   ("biscoitos", "Quantos"), ("adesivos", "Quantos"), ("bolinhas", "Quantas")]],
        "add": ["{name} tem {a} {item}. {name} compra mais {b} {item}. {many} {item} {name}"
                " tem agora?",
                "Há {a} {item} em uma caixa. {name} coloca mais {b} {item} na caixa. {many}"
                " {item} há na caixa agora?"],
        "subtract": ["{name} tem {a} {item}. {name} dá {b} {item} para um amigo. {many}"
                     " {item} {name} tem agora?",
                     "Há {a} {item} em uma caixa. {name} tira {b} {item} da caixa. {many}"
                     " {item} há na caixa agora?"],
    },
    "ja": {
        "names": ["太郎", "花子", "健太", "さくら", "翔太", "美咲"],
        "items": [{"item": word, "counter": counter} for word, counter in
                  [("りんご", "個"), ("鉛筆", "本"), ("本", "冊"), ("クッキー", "枚"),
                   ("シール", "枚"), ("ビー玉", "個")]],
        "add": ["{name}は{item}を{a}{counter}持っています。{name}は{item}をさらに{b}{counter}"
                "買いました。{name}は今{item}を何{counter}持っていますか？",
                "箱に{item}が{a}{counter}入っています。{name}は箱に{item}をさらに{b}{counter}"
                "入れました。箱には今{item}が何{counter}入っていますか？"],
        "subtract": ["{name}は{item}を{a}{counter}持っています。{name}は友達に{item}を{b}"
                     "{counter}あげました。{name}は今{item}を何{counter}持っていますか？",
                     "箱に{item}が{a}{counter}入っています。{name}は箱から{item}を{b}{counter}"
                     "取り出しました。箱には今{item}が何{counter}入っていますか？"],
    },
    "zh": {
        "names": ["小明", "小红", "李雷", "韩梅梅", "王芳", "张伟"],
        "items": [{"item": word, "counter": counter} for word, counter in
                  [("苹果", "个"), ("铅笔", "支"), ("书", "本"), ("饼干", "块"),
                   ("贴纸", "张"), ("弹珠", "颗")]],
        "add": ["{name}有{a}{counter}{item}。{name}又买了{b}{counter}{item}。{name}现在有多少"
                "{counter}{item}？",
                "盒子里有{a}{counter}{item}。{name}又往盒子里放了{b}{counter}{item}。盒子里现在"
                "有多少{counter}{item}？"],
        "subtract": ["{name}有{a}{counter}{item}。{name}送给朋友{b}{counter}{item}。{name}现在"
                     "有多少{counter}{item}？",
                     "盒子里有{a}{counter}{item}。{name}从盒子里拿走了{b}{counter}{item}。"
                     "盒子里现在有多少{counter}{item}？"],
    },
    "ar": {
        # Male names: the verbs and "his friend" below are in the masculine.
        "names": ["أحمد", "محمد", "علي", "عمر", "يوسف", "خالد"],
        "items": [{"item": word, "the_items": definite} for word, definite in
                  [("تفاحات", "التفاحات"), ("أقلام", "الأقلام"), ("كتب", "الكتب"),
                   ("بسكويتات", "البسكويتات"), ("ملصقات", "الملصقات"), ("كرات", "الكرات")]],
        "add": ["لدى {name} {a} {item}. اشترى {name} {b} {item} إضافية. كم عدد {the_items}"
                " لدى {name} الآن؟",
                "يوجد {a} {item} في صندوق. وضع {name} {b} {item} إضافية في الصندوق. كم عدد"
                " {the_items} في الصندوق الآن؟"],
        "subtract": ["لدى {name} {a} {item}. أعطى {name} صديقه {b} {item}. كم عدد {the_items}"
                     " لدى {name} الآن؟",
                     "يوجد {a} {item} في صندوق. أخرج {name} {b} {item} من الصندوق. كم عدد"
                     " {the_items} في الصندوق الآن؟"],
    },
    "ko": {
        # Names end in a vowel, so the topic particle is always 는.
        "names": ["민수", "지우", "하나", "수아", "도희", "재호"],
        "items": [{"object": obj, "subject": subj, "counter": counter} for obj, subj, counter in
                  [("사과를", "사과가", "개"), ("연필을", "연필이", "자루"), ("책을", "책이", "권"),
                   ("쿠키를", "쿠키가", "개"), ("스티커를", "스티커가", "장"),
                   ("구슬을", "구슬이", "개")]],
        "add": ["{name}는 {object} {a}{counter} 가지고 있습니다. {name}는 {object} {b}{counter}"
                " 더 샀습니다. {name}는 지금 {object} 몇 {counter} 가지고 있습니까?",
                "상자에 {subject} {a}{counter} 들어 있습니다. {name}는 상자에 {object} {b}{counter}"
                " 더 넣었습니다. 지금 상자에는 {subject} 몇 {counter} 들어 있습니까?"],
        "subtract": ["{name}는 {object} {a}{counter} 가지고 있습니다. {name}는 친구에게 {object}"
                     " {b}{counter} 주었습니다. {name}는 지금 {object} 몇 {counter} 가지고 있습니까?",
                     "상자에 {subject} {a}{counter} 들어 있습니다. {name}는 상자에서 {object}"
                     " {b}{counter} 꺼냈습니다. 지금 상자에는 {subject} 몇 {counter} 들어 있습니까?"],
    },
}


def _all_problems(language: str) -> list[tuple[str, int]]:
  """Every distinct problem the templates produce for a language, in a fixed order."""
  if language not in _LANGUAGE_DATA:
    raise UserInputError(
        f"the demo task has no language {language!r}; it has {', '.join(DEMO_LANGUAGES)}"
    )
  spec = _LANGUAGE_DATA[language]
  problems = []
  for operation in ("add", "subtract"):
    for template, name, item, a, b in itertools.product(
        spec[operation], spec["names"], spec["items"], NUMBERS, NUMBERS
    ):
      if operation == "subtract" and b > a:
        continue
      answer = a + b if operation == "add" else a - b
      problems.append((template.format(name=name, a=a, b=b, **item), answer))
  return problems


def max_problems(language: str) -> int:
  """How many distinct problems exist for a language."""
  return len(_all_problems(language))


def generate_problems(language: str, count: int, seed: int) -> list[tuple[str, int]]:
  """`count` distinct (question, answer) pairs; deterministic for (language, count, seed),
  and the list for a smaller count is a prefix of the list for a larger one."""
  problems = _all_problems(language)
  if count > len(problems):
    raise UserInputError(
        f"the demo task can produce {len(problems)} distinct {language} problems,"
        f" not {count}"
    )
  language_seed = seed * 1000 + DEMO_LANGUAGES.index(language)
  order = np.random.default_rng(language_seed).permutation(len(problems))
  return [problems[index] for index in order[:count]]


def write_demo_dataset(
    data_dir: str,
    split_sizes: dict[str, int],
    languages: tuple[str, ...] = DEMO_LANGUAGES,
    seed: int = 0,
) -> dict[str, str]:
  """Writes each split of each language; the splits of a language share no question.

  Returns:
    {"<split>/<language>": path} of the files written.
  """
  written = {}
  for language in languages:
    problems = generate_problems(language, sum(split_sizes.values()), seed)
    start = 0
    for split, size in split_sizes.items():
      rows = problems[start:start + size]
      start += size
      path = os.path.join(data_dir, "demo_arith", split, f"{language}.tsv")
      atomic_io.write_text(path, "".join(f"{question}\t{answer}\n" for question, answer in rows))
      written[f"{split}/{language}"] = path
  return written


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description="Writes the demo arithmetic dataset.")
  parser.add_argument("--out", required=True, help="data directory to write into")
  parser.add_argument("--train", type=int, default=1000)
  parser.add_argument("--validation", type=int, default=32)
  parser.add_argument("--test", type=int, default=50)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  try:
    written = write_demo_dataset(
        args.out, {"train": args.train, "validation": args.validation, "test": args.test},
        seed=args.seed,
    )
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print(f"wrote {len(written)} files under {os.path.join(args.out, 'demo_arith')}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
