"""Slack presentation, pure and without I/O: Block Kit builders, a run's thread messages, mrkdwn and
escaping, replies to one person, and the encodings of ids and button values.

The activities that post and the listeners that answer both import it; it imports neither.
"""
