def initials(phrase):
    pass
