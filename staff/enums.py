from django.db import models


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class TimeBlockKind(models.TextChoices):
    ABSENCE = "absence", "Absence"
    VACATION = "vacation", "Vacation"
    SICK = "sick", "Sick leave"
    TRAINING = "training", "Training"
    MANUAL = "manual", "Manual block"
