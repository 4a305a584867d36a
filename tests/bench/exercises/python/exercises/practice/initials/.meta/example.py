import re


def initials(phrase):
    return "".join(word[0].upper() for word in re.split(r"[\s-]+", phrase) if word)
