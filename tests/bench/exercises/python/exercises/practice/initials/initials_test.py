import unittest

from initials import initials


class InitialsTest(unittest.TestCase):
    def test_title_case_words(self):
        self.assertEqual(initials("Portable Network Graphics"), "PNG")

    def test_lower_case_words(self):
        self.assertEqual(initials("ruby on rails"), "ROR")

    def test_hyphens_separate_words(self):
        self.assertEqual(initials("first-in first-out"), "FIFO")

    def test_extra_spaces(self):
        self.assertEqual(initials("  lots   of  space "), "LOS")
