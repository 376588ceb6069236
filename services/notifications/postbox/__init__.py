"""The citizen's postbox (Postfach) and the decision letters (Bescheide) delivered into it."""
