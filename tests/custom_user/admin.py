"""A user admin for the custom user model, with the LiveLike mixin, as a site would write it."""

from django.contrib import admin

from livelike_profiles.admin import LiveLikeUserAdminMixin

from .models import EmailUser


@admin.register(EmailUser)
class EmailUserAdmin(LiveLikeUserAdminMixin, admin.ModelAdmin):
    fields = ("email", "is_active", "is_staff")
    search_fields = ("email",)
